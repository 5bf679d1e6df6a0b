"""The knowledge-distillation objective and the student model of KD pretraining.

Paper (a) pretrains Bort by distilling RoBERTa-large into the extracted architecture. The
released code (alexa/bort `utils/pretraining_distillation_utils.py`, see
reference/bort-papers.md §4.2) optimises, over the masked positions j of a batch,

    loss = w_mlm · CE(z_s, gold) + w_kd · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))

with w_mlm = 0.1, w_kd = 0.5, T = 2; z_s, z_t are student and teacher logits, and the teacher
sees the same masked input. Both sets of logits are computed ONLY at the masked positions
(`bortkit.pretrain.mlm.masked_logits`): with 15% masking that skips ~85% of the vocabulary
projections.

The released code's KD term has two quirks (MXNet `KLDivLoss(from_logits=False)` applies
log_softmax to its prediction input, and the code passes it the student *probabilities*; the
loss is also averaged over the vocabulary axis, scaling it by 1/V). `kd_variant="kl"` (default)
is the textbook KL; `kd_variant="bort-code"` reproduces the quirk exactly, for comparison.

Project choice — hidden-state distillation (`objective="hidden"`): a teacher without an MLM
head (e.g. the shipped MiniLM `BertModel`) can still teach through its last hidden states:
loss = w_mlm · CE + w_kd · MSE(P h_s, h_t) over every attended position, where P is a learned
linear map from the student's to the teacher's width (identity when they are equal). P is a
training-time helper and is not exported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bortkit.arch import ArchSpec
from bortkit.pretrain.mlm import masked_logits
from bortkit.pretrain.teacher import check_vocab

if TYPE_CHECKING:  # pragma: no cover - torch stays lazy: the CLI imports this module at start
    import torch

logger = logging.getLogger(__name__)

KD_VARIANTS = ("kl", "bort-code")
OBJECTIVES = ("kd", "mlm", "hidden")


@dataclass(frozen=True)
class LossParts:
    """The scalar parts of one objective evaluation (tensors; `total` carries the gradient).

    Not a `Record`: it holds autograd tensors for one step and is never serialised.
    """

    total: Any
    mlm: Any
    kd: Any


def _check_weights(w_mlm: float, w_kd: float, temperature: float) -> None:
    if w_mlm < 0:
        raise ValueError(f"w_mlm must be >= 0, got {w_mlm!r}")
    if w_kd < 0:
        raise ValueError(f"w_kd must be >= 0, got {w_kd!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")


def kd_term(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 2.0,
    kd_variant: str = "kl",
) -> torch.Tensor:
    """The distillation term at masked positions, T² · mean_j KL(p_t,j ‖ q_s,j).

    Args:
        student_logits: (N, V) student logits at the N masked positions.
        teacher_logits: (N, V) teacher logits at the same positions (no gradient needed).
        temperature: T; both distributions are softened by it and the term is scaled by T².
        kd_variant: "kl" (textbook, default) or "bort-code" (the released code's quirk:
            KL-like sum with log_softmax applied to the student's probabilities, averaged
            over the vocabulary).

    Returns:
        A scalar tensor (0 when N == 0).
    """
    import torch.nn.functional as F

    if kd_variant not in KD_VARIANTS:
        raise ValueError(f"kd_variant must be one of {KD_VARIANTS}, got {kd_variant!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits differ in shape: {tuple(student_logits.shape)} vs "
            f"{tuple(teacher_logits.shape)} (vocabulary mismatch?)"
        )
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0.0
    t = float(temperature)
    log_p_t = F.log_softmax(teacher_logits.float() / t, dim=-1)  # (N, V)
    log_q_s = F.log_softmax(student_logits.float() / t, dim=-1)  # (N, V)
    p_t = log_p_t.exp()
    if kd_variant == "kl":
        # paper (a) §4.2 intent: KL(p_t ‖ q_s) per position, mean over positions.
        per_pos = (p_t * (log_p_t - log_q_s)).sum(-1)  # (N,)
    else:
        # released code, CODE-verified quirk: log_softmax of the *probabilities* q_s and a
        # mean over the vocabulary axis (MXNet Loss reduction); log(p_t + 1e-12) as there.
        q_s = log_q_s.exp()
        per_pos = (p_t * ((p_t + 1e-12).log() - F.log_softmax(q_s, dim=-1))).mean(-1)
    return t * t * per_pos.mean()


def topk_kl(
    student_logits: torch.Tensor,
    topk_values: torch.Tensor,
    topk_indices: torch.Tensor,
    *,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Per-position KL(p_t ‖ q_s) from a teacher stored as its top-k logits.

    Project choice (the teacher-output cache keeps only the top k of K logits): p_t is the
    teacher's distribution renormalised over its top k (softmax of the k stored logits / T), so
    it is 0 outside them and KL(p_t ‖ q_s) = Σ_{i ∈ top-k} p_t,i (log p_t,i − log q_s,i) with
    q_s the student's full K-way softmax at the same temperature. It is 0 exactly when the
    student puts the teacher's renormalised top-k mass on the same tokens and nothing elsewhere;
    it equals the soft cross-entropy minus the (constant) teacher entropy, so its gradient is
    the soft cross-entropy's.

    Args:
        student_logits: (N, K) student logits at N masked positions.
        topk_values: (N, k) the teacher's k largest logits there.
        topk_indices: (N, k) their indices into the K outputs.
        temperature: T, applied to both.

    Returns:
        (N,) KL per position (float32).
    """
    import torch.nn.functional as F

    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if topk_values.shape != topk_indices.shape or topk_values.shape[0] != student_logits.shape[0]:
        raise ValueError(f"top-k values {tuple(topk_values.shape)} and indices "
                         f"{tuple(topk_indices.shape)} do not match student logits "
                         f"{tuple(student_logits.shape)}")
    t = float(temperature)
    log_p = F.log_softmax(topk_values.float() / t, dim=-1)  # (N, k)
    log_q = F.log_softmax(student_logits.float() / t, dim=-1).gather(-1, topk_indices)  # (N, k)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def topk_kd_loss(
    student_logits: torch.Tensor,
    topk_values: torch.Tensor,
    topk_indices: torch.Tensor,
    gold: torch.Tensor,
    *,
    w_mlm: float = 0.0,
    w_kd: float = 1.0,
    temperature: float = 1.0,
) -> LossParts:
    """The cached-teacher objective at masked positions: w_mlm · CE + w_kd · T² · mean KL.

    `topk_kl` gives the KL; CE is over the restricted vocabulary at positions whose gold token
    is in it (gold = -100 elsewhere).

    Returns:
        LossParts(total, mlm, kd) scalar tensors (all 0 when there is no masked position).
    """
    import torch.nn.functional as F

    _check_weights(w_mlm, w_kd, temperature)
    if student_logits.shape[0] == 0:
        zero = student_logits.sum() * 0.0
        return LossParts(zero, zero.detach(), zero.detach())
    kd = float(temperature) ** 2 * topk_kl(student_logits, topk_values, topk_indices,
                                           temperature=temperature).mean()
    if w_mlm > 0 and bool((gold != -100).any()):
        mlm = F.cross_entropy(student_logits.float(), gold, ignore_index=-100)
    else:
        mlm = kd.detach() * 0.0
    return LossParts(w_mlm * mlm + w_kd * kd, mlm.detach(), kd.detach())


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    gold: torch.Tensor,
    *,
    w_mlm: float = 0.1,
    w_kd: float = 0.5,
    temperature: float = 2.0,
    kd_variant: str = "kl",
) -> LossParts:
    """Bort's pretraining loss at masked positions: w_mlm · CE + w_kd · T² · KL.

    Args:
        student_logits: (N, V) at masked positions.
        teacher_logits: (N, V) at the same positions, or None for plain MLM (then the KD part
            is 0 and `w_kd` is ignored).
        gold: (N,) the original token ids.
        w_mlm, w_kd, temperature: the weights and T (defaults: the released code's).
        kd_variant: see `kd_term`.

    Returns:
        LossParts(total, mlm, kd) scalar tensors.
    """
    import torch.nn.functional as F

    _check_weights(w_mlm, w_kd, temperature)
    if gold.numel() == 0:
        zero = student_logits.sum() * 0.0
        return LossParts(zero, zero.detach(), zero.detach())
    mlm = F.cross_entropy(student_logits.float(), gold)
    if teacher_logits is None:
        kd = mlm.detach() * 0.0
        total = w_mlm * mlm
    else:
        kd = kd_term(student_logits, teacher_logits, temperature=temperature,
                     kd_variant=kd_variant)
        total = w_mlm * mlm + w_kd * kd
    return LossParts(total, mlm.detach(), kd.detach())


def build_student(spec: ArchSpec, tokenizer: Any, *, seed: int = 0,
                  **config_overrides: Any) -> Any:
    """A freshly initialised HF `BertForMaskedLM` of shape `spec`, for `tokenizer`'s vocabulary.

    Args:
        spec: the architecture (its vocab_size must equal the tokenizer's).
        tokenizer: the teacher's tokenizer (gives the vocabulary and the pad id).
        seed: seeds the weight initialisation only (global RNG state is restored).
        config_overrides: passed to `ArchSpec.to_bert_config` (e.g. hidden_dropout_prob).

    Raises:
        ValueError: on a vocabulary mismatch (`bortkit.pretrain.teacher.check_vocab`).
    """
    import torch
    from transformers import BertForMaskedLM

    check_vocab(spec, tokenizer)
    overrides = {"pad_token_id": tokenizer.pad_token_id, **config_overrides}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForMaskedLM(spec.to_bert_config(**overrides))
    return model


def clip_weights_(model: Any, clip: float | None) -> None:
    """Clamp every weight into [-clip, clip] in place (paper (a): weight clipping for the
    compactness the AB^nC proof needs; the value is UNKNOWN, so a parameter; None = off)."""
    import torch

    if clip is None:
        return
    if not clip > 0:
        raise ValueError(f"clip_weights must be > 0 or None, got {clip!r}")
    with torch.no_grad():
        for p in model.parameters():
            p.clamp_(-clip, clip)


def _encoder(model: Any) -> Any:
    return model.bert if hasattr(model, "bert") else model


def make_distiller(student: Any, teacher: Any | None, *, objective: str) -> Any:
    """The trainable module of one run: the student plus, for `objective="hidden"`, the
    projection P (student width → teacher width). The teacher is held outside the module so
    it is never optimised, checkpointed or wrapped for data parallelism."""
    import torch

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective != "mlm" and teacher is None:
        raise ValueError(f"objective={objective!r} needs a teacher; use objective='mlm' without")

    class Distiller(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.student = student
            self.proj = None
            if objective == "hidden":
                h_s = student.config.hidden_size
                h_t = _encoder(teacher).config.hidden_size
                self.proj = torch.nn.Linear(h_s, h_t) if h_s != h_t else torch.nn.Identity()

        def forward(self, input_ids, attention_mask, labels, teacher_model, cfg):  # noqa: D401
            return _objective(self, input_ids, attention_mask, labels, teacher_model, cfg)

    return Distiller()


def _objective(module: Any, input_ids: Any, attention_mask: Any, labels: Any,
               teacher: Any, cfg: Any) -> LossParts:
    """One evaluation of the configured objective (cfg has objective, w_mlm, w_kd, ...)."""
    import torch
    import torch.nn.functional as F

    student = module.student
    if cfg.objective == "hidden":
        hidden = student.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        selected = labels != -100
        logits, gold = student.cls(hidden[selected]), labels[selected]  # (N, V), (N,)
        with torch.inference_mode():
            t_hidden = _encoder(teacher)(input_ids=input_ids,
                                         attention_mask=attention_mask).last_hidden_state
        keep = attention_mask.bool()
        # project choice: MSE over every attended position, in the teacher's width.
        hid = F.mse_loss(module.proj(hidden[keep]), t_hidden[keep].clone())
        mlm = F.cross_entropy(logits.float(), gold) if gold.numel() else hidden.sum() * 0.0
        total = cfg.w_mlm * mlm + cfg.w_kd * hid
        return LossParts(total, mlm.detach(), hid.detach())
    logits, gold = masked_logits(student, input_ids, attention_mask, labels)
    if cfg.objective == "mlm":
        # plain MLM baseline: CE alone, unit weight.
        return kd_loss(logits, None, gold, w_mlm=1.0, w_kd=0.0, temperature=1.0)
    with torch.inference_mode():
        t_logits, _ = masked_logits(teacher, input_ids, attention_mask, labels)
    return kd_loss(logits, t_logits.clone(), gold, w_mlm=cfg.w_mlm, w_kd=cfg.w_kd,
                   temperature=cfg.temperature, kd_variant=cfg.kd_variant)


__all__ = [
    "KD_VARIANTS",
    "OBJECTIVES",
    "LossParts",
    "build_student",
    "clip_weights_",
    "kd_loss",
    "kd_term",
    "make_distiller",
    "topk_kd_loss",
    "topk_kl",
]
