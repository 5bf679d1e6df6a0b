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

Students over the restricted output vocabulary (`bortkit.pretrain.init`): `build_student` with a
`vocab` gives a `RestrictedBertForMaskedLM` whose K-way head predicts the teacher's `Vocab`
(``init="pca"`` or ``"random"``); without one, the full-vocabulary `BertForMaskedLM` of the
released code. Every objective handles both: gold tokens outside the Vocab (label -100) are not
scored by the cross-entropy, and KD compares K-way logits with a restricted teacher's.

Training from the teacher-output cache (`bortkit.pretrain.batches.CacheSource`): the teacher's
logits are its stored top-k at the masked positions, so ``objective="kd"`` is `topk_kd_loss`
(soft cross-entropy against the teacher's top-k distribution renormalised, at temperature T,
plus w_mlm · CE) and ``objective="mlm"`` is CE with the cached gold; ``"hidden"`` needs the
teacher's hidden states, which the cache does not store (refused with a clear error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bortkit.arch import ArchSpec
from bortkit.pretrain.init import INITS, EmbeddingPca, init_student
from bortkit.pretrain.teacher import check_vocab
from bortkit.pretrain.vocab import Vocab

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


def _cross_entropy(logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """Mean CE over the positions whose gold is not -100 (0, with a graph, when there is none)."""
    import torch.nn.functional as F

    if not bool((gold != -100).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), gold, ignore_index=-100)


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
        gold: (N,) the original token ids (-100: not scored by the cross-entropy, e.g. a
            token outside a restricted vocabulary).
        w_mlm, w_kd, temperature: the weights and T (defaults: the released code's).
        kd_variant: see `kd_term`.

    Returns:
        LossParts(total, mlm, kd) scalar tensors.
    """
    _check_weights(w_mlm, w_kd, temperature)
    if gold.numel() == 0:
        zero = student_logits.sum() * 0.0
        return LossParts(zero, zero.detach(), zero.detach())
    mlm = _cross_entropy(student_logits, gold)
    if teacher_logits is None:
        kd = mlm.detach() * 0.0
        total = w_mlm * mlm
    else:
        kd = kd_term(student_logits, teacher_logits, temperature=temperature,
                     kd_variant=kd_variant)
        total = w_mlm * mlm + w_kd * kd
    return LossParts(total, mlm.detach(), kd.detach())


def build_student(spec: ArchSpec, tokenizer: Any, *, seed: int = 0, vocab: Vocab | None = None,
                  init: str = "random", pca: EmbeddingPca | None = None,
                  teacher: Any | None = None, freeze_embeddings: bool = False,
                  **config_overrides: Any) -> Any:
    """A fresh student of shape `spec` for `tokenizer`'s (input) vocabulary.

    Args:
        spec: the architecture (its vocab_size must equal the tokenizer's).
        tokenizer: the teacher's tokenizer (gives the vocabulary and the pad id).
        seed: seeds the weight initialisation only (global RNG state is restored).
        vocab: the teacher's restricted output `Vocab`: the student is then a
            `RestrictedBertForMaskedLM` with a K-way head (`bortkit.pretrain.init`); None: an HF
            `BertForMaskedLM` over the full vocabulary (the released code's student).
        init: "random" (BERT's initialisation, the paper's), "pca" (embeddings and decoder from
            the PCA projection of the teacher's embeddings) or "inherit" (a sub-network of the
            teacher); anything but "random" needs `vocab`.
        pca: the teacher's `EmbeddingPca` (e.g. the teacher cache's ``.pca``); computed from
            `teacher` when None.
        teacher: the teacher model (init "inherit", or the source of `pca`).
        freeze_embeddings: keep the embedding tables fixed during training.
        config_overrides: passed to `ArchSpec.to_bert_config` (full-vocabulary students only,
            e.g. hidden_dropout_prob).

    Raises:
        ValueError: a vocabulary mismatch (`bortkit.pretrain.teacher.check_vocab`), an init
            that needs `vocab`, or one that does not fit the shape.
    """
    import torch
    from transformers import BertForMaskedLM

    check_vocab(spec, tokenizer)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if vocab is not None:
        if config_overrides:
            raise ValueError(f"config overrides {sorted(config_overrides)} apply to "
                             f"full-vocabulary students only (vocab=None)")
        return init_student(spec, vocab, init=init, seed=seed, pca=pca, teacher=teacher,
                            freeze_embeddings=freeze_embeddings,
                            pad_token_id=int(tokenizer.pad_token_id or 0))
    if init != "random" or freeze_embeddings:
        raise ValueError(f"init={init!r} / freeze_embeddings need the teacher's restricted "
                         f"vocab (e.g. vocab=cache.vocab); a full-vocabulary student is random")
    overrides = {"pad_token_id": tokenizer.pad_token_id, **config_overrides}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForMaskedLM(spec.to_bert_config(**overrides))
    return model


def output_vocab(model: Any) -> Vocab | None:
    """The restricted `Vocab` a model's MLM head predicts, or None for a full-vocabulary head."""
    vocab = getattr(model, "vocab", None)
    return vocab if isinstance(vocab, Vocab) else None


def check_output_vocab(student: Any, teacher: Any) -> None:
    """Raise unless `student` and `teacher` predict the same output tokens (logit KD).

    Raises:
        ValueError: one head is restricted and the other is not, or the restricted Vocabs
            differ (another teacher's vocabulary).
    """
    s, t = output_vocab(student), output_vocab(teacher)
    if s is None and t is None:
        return
    if s is None or t is None:
        which = "teacher" if t is not None else "student"
        raise ValueError(f"vocabulary mismatch: the {which} predicts a restricted vocabulary of "
                         f"{(t or s).size} tokens and the other the full one; build the student "
                         f"with vocab=teacher_vocab(teacher)")
    if s.key != t.key:
        raise ValueError(f"vocabulary mismatch: the student's output Vocab (key {s.key}, "
                         f"K={s.size}) differs from the teacher's (key {t.key}, K={t.size}); "
                         f"build the student with vocab=teacher_vocab(teacher)")


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


def make_distiller(student: Any, teacher: Any | None, *, objective: str,
                   cached: bool = False) -> Any:
    """The trainable module of one run: the student plus, for `objective="hidden"`, the
    projection P (student width → teacher width). The teacher is held outside the module so
    it is never optimised, checkpointed or wrapped for data parallelism.

    Args:
        student: the student model.
        teacher: the live teacher (None for "mlm" and for a cached teacher).
        objective: one of `OBJECTIVES`.
        cached: the teacher's outputs come from the teacher cache (top-k logits).

    The module's ``forward(input_ids, attention_mask, labels, teacher, cfg, masked=None,
    values=None, indices=None)`` returns `LossParts`: `labels` are the gold tokens in the
    student's output vocabulary (-100: not scored), `masked` the positions predicted (default
    ``labels != -100``), `values`/`indices` the cached teacher's top-k at those positions.
    """
    import torch

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if cached and objective == "hidden":
        raise ValueError("objective='hidden' needs the teacher's hidden states, which the "
                         "teacher cache does not store (only its top-k logits); train it with a "
                         "live teacher (teacher=..., train_blocks=...)")
    if objective != "mlm" and teacher is None and not cached:
        raise ValueError(f"objective={objective!r} needs a teacher; use objective='mlm' without")
    if objective == "kd" and not cached:
        check_output_vocab(student, teacher)

    class Distiller(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.student = student
            self.proj = None
            if objective == "hidden":
                h_s = student.config.hidden_size
                h_t = _encoder(teacher).config.hidden_size
                self.proj = torch.nn.Linear(h_s, h_t) if h_s != h_t else torch.nn.Identity()

        def forward(self, input_ids, attention_mask, labels, teacher_model, cfg,  # noqa: D401
                    masked=None, values=None, indices=None):
            return _objective(self, input_ids, attention_mask, labels, teacher_model, cfg,
                              masked, values, indices)

    return Distiller()


def _objective(module: Any, input_ids: Any, attention_mask: Any, labels: Any, teacher: Any,
               cfg: Any, masked: Any, values: Any, indices: Any) -> LossParts:
    """One evaluation of the configured objective (cfg has objective, w_mlm, w_kd, ...)."""
    import torch
    import torch.nn.functional as F

    student = module.student
    masked = labels != -100 if masked is None else masked
    hidden = student.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    logits, gold = student.cls(hidden[masked]), labels[masked]  # (N, V or K), (N,)
    if cfg.objective == "mlm":
        # plain MLM baseline: CE alone, unit weight.
        return kd_loss(logits, None, gold, w_mlm=1.0, w_kd=0.0, temperature=1.0)
    if values is not None:  # the cached teacher: its top-k logits at the masked positions
        return topk_kd_loss(logits, values, indices, gold, w_mlm=cfg.w_mlm, w_kd=cfg.w_kd,
                            temperature=cfg.temperature)
    with torch.inference_mode():
        t_hidden = _encoder(teacher)(input_ids=input_ids,
                                     attention_mask=attention_mask).last_hidden_state
        t_logits = teacher.cls(t_hidden[masked]) if cfg.objective == "kd" else None
    if cfg.objective == "hidden":
        keep = attention_mask.bool()
        # project choice: MSE over every attended position, in the teacher's width.
        hid = F.mse_loss(module.proj(hidden[keep]), t_hidden[keep].clone())
        mlm = _cross_entropy(logits, gold) if gold.numel() else hidden.sum() * 0.0
        return LossParts(cfg.w_mlm * mlm + cfg.w_kd * hid, mlm.detach(), hid.detach())
    return kd_loss(logits, t_logits.clone(), gold, w_mlm=cfg.w_mlm, w_kd=cfg.w_kd,
                   temperature=cfg.temperature, kd_variant=cfg.kd_variant)


__all__ = [
    "KD_VARIANTS",
    "OBJECTIVES",
    "LossParts",
    "build_student",
    "check_output_vocab",
    "clip_weights_",
    "kd_loss",
    "kd_term",
    "make_distiller",
    "output_vocab",
    "topk_kd_loss",
    "topk_kl",
]
