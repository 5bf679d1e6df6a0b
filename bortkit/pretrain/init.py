"""Student initialisation: a restricted K-way MLM head, and three ways to set its first weights.

A student is the teacher's own model class, `RestrictedBertForMaskedLM`
(`bortkit.pretrain.teacher_head`): its inputs keep the tokenizer's full vocabulary and its MLM
head (BERT's transform, then an untied `Linear(H, K)`) predicts the restricted output `Vocab`;
`save_pretrained` / `from_pretrained` write and read it with its ``vocab.json``. Three
initialisations (`INITS`, a `SurrogateConfig` field):

- ``"random"``: BERT's own initialisation (the papers': the candidate is untrained).
- ``"pca"`` (project choice, the surrogate's default): word, position and token-type embeddings
  are one PCA projection of the teacher's embeddings to H (`EmbeddingPca`: the principal axes of
  the teacher's word-embedding rows; the first H coordinates, zero-padded when H exceeds the
  teacher's width), shared by every candidate of the same H; the restricted decoder starts as
  the projected rows of `Vocab.ids` (untied), its bias as the centred log unigram and the head's
  transform dense layer as the identity (the teacher's own warm start,
  `teacher_head.from_encoder`), so a fresh student already predicts at about the unigram level
  and compares its last hidden state with the projected embeddings. Everything else is random.
  ``freeze_embeddings`` keeps the embedding tables fixed (the AB^nC condition "cheap input
  layers": the bounded training then measures the encoder; it also removes the largest AdamW
  update on the CPU).
- ``"inherit"`` (weight inheritance, a documented project choice that departs from the papers'
  untrained-candidate premise, as HAT, AutoTinyBERT and whittle do): the candidate starts as a
  structured sub-network of the teacher. With P the teacher's first H principal axes
  (r × H, orthonormal columns; a student hidden vector is Pᵀ of the teacher's):
    * layers: D of the teacher's L layers, evenly spaced (``round(linspace(0, L-1, D))``;
      repeated when D > L);
    * heads: the teacher heads with the largest attention-output norm, in their order, until
      H query/key/value dimensions are filled; they are cut into A heads of H/A. When H/A
      equals the teacher's head size (32 for MiniLM) this is exact head selection; otherwise
      it is the documented projection "a student head is H/A consecutive teacher-head
      dimensions" (merging or halving teacher heads; the 1/sqrt(d) scale is the student's);
    * hidden directions: every matrix reading the residual stream becomes W·P, every matrix
      writing it Pᵀ·W (biases Pᵀ·b), LayerNorm gains diag(Pᵀ diag(γ) P) and shifts Pᵀ·β;
    * FFN neurons: the I with the largest ‖w_in‖·‖w_out‖, in their order (when I exceeds the
      teacher's, the extra neurons keep random inputs and zero outputs);
    * embeddings, MLM transform and the restricted decoder: projected the same way.
  The inherited candidate is then trained like the others.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from bortkit.arch import ArchSpec
from bortkit.pretrain.teacher_head import model_class
from bortkit.pretrain.vocab import Vocab
from bortkit.records import check_choice
from bortkit.utils import quiet_transformers

logger = logging.getLogger(__name__)

INITS = ("pca", "random", "inherit")


# ---------------------------------------------------------------------------------------------
# The PCA of the teacher's embeddings.
@dataclass(frozen=True, eq=False)  # identity equality and hash: it holds arrays
class EmbeddingPca:
    """The teacher's embedding tables in the coordinates of its word-embedding principal axes.

    Not a `Record`: it holds arrays (the teacher cache stores them as .npy files).

    Attributes:
        components: (r, r) principal axes as rows, by decreasing variance (P = components[:H].T).
        word: (V, r) word embeddings · componentsᵀ (uncentred: the mean direction is kept).
        position: (max_positions, r) position embeddings, same projection.
        token_type: (n_types, r) token-type embeddings, same projection.
    """

    components: np.ndarray
    word: np.ndarray
    position: np.ndarray
    token_type: np.ndarray

    @property
    def width(self) -> int:
        """r, the teacher's hidden size."""
        return int(self.components.shape[0])

    def basis(self, hidden: int) -> np.ndarray:
        """P: (r, hidden) orthonormal columns (zero columns beyond r)."""
        p = np.zeros((self.width, hidden), dtype=np.float32)
        n = min(hidden, self.width)
        p[:, :n] = self.components[:n].T
        return p

    def project(self, table: str, hidden: int) -> np.ndarray:
        """The first `hidden` PCA coordinates of `table` ("word", "position", "token_type")."""
        full = np.asarray(getattr(self, table), dtype=np.float32)
        out = np.zeros((full.shape[0], hidden), dtype=np.float32)
        n = min(hidden, self.width)
        out[:, :n] = full[:, :n]
        return out


def _bert(model: Any) -> Any:
    return model.bert if hasattr(model, "bert") else model


def embedding_pca(teacher: Any) -> EmbeddingPca:
    """The PCA of a BERT teacher's word-embedding rows, and its tables in those coordinates.

    Computed from the covariance (r × r) of the word-embedding rows: one eigendecomposition.
    """
    emb = _bert(teacher).embeddings
    word = emb.word_embeddings.weight.detach().cpu().double().numpy()  # (V, r)
    centred = word - word.mean(axis=0)
    cov = centred.T @ centred / max(len(word) - 1, 1)  # (r, r)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    comps = vecs[:, order].T  # rows = axes by decreasing variance
    # a deterministic sign per axis (eigh's signs are arbitrary): largest |entry| positive
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]

    def proj(table: Any) -> np.ndarray:
        return (table.weight.detach().cpu().double().numpy() @ comps.T).astype(np.float32)

    return EmbeddingPca(comps.astype(np.float32), proj(emb.word_embeddings),
                        proj(emb.position_embeddings), proj(emb.token_type_embeddings))


# ---------------------------------------------------------------------------------------------
# The restricted-head student.
def restricted_student(spec: ArchSpec, vocab: Vocab, *, pad_token_id: int = 0, seed: int = 0,
                       **config_overrides: Any) -> Any:
    """A BERT-initialised `RestrictedBertForMaskedLM` of shape `spec` over `vocab`.

    Args:
        spec: the architecture (its vocab_size is the input vocabulary).
        vocab: the restricted output vocabulary (K = vocab.size outputs).
        pad_token_id: the tokenizer's pad id.
        seed: seeds the initialisation only (the global RNG state is restored).
        config_overrides: passed to `ArchSpec.to_bert_config`.
    """
    import torch

    if not isinstance(spec, ArchSpec):
        raise TypeError(f"spec must be an ArchSpec, got {type(spec).__name__}")
    cfg = spec.to_bert_config(pad_token_id=pad_token_id, restricted_vocab_size=vocab.size,
                              restricted_vocab_key=vocab.key,
                              architectures=["RestrictedBertForMaskedLM"], **config_overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with quiet_transformers():
            model = model_class()(cfg)
    model.vocab = vocab
    return model


def init_student(
    spec: ArchSpec,
    vocab: Vocab,
    *,
    init: str = "pca",
    seed: int = 0,
    pca: EmbeddingPca | None = None,
    teacher: Any | None = None,
    freeze_embeddings: bool = False,
    pad_token_id: int = 0,
) -> Any:
    """A student of shape `spec` over `vocab`, initialised by `init` (see the module doc).

    Args:
        spec: the candidate architecture; its vocab_size must be `vocab.full_size`.
        vocab: the restricted output vocabulary (K = vocab.size).
        init: "pca", "random" or "inherit".
        seed: seeds the random part of the initialisation.
        pca: the teacher's `EmbeddingPca` ("pca" and "inherit"; computed from `teacher` when
            None).
        teacher: the teacher model ("inherit"; or the source of `pca`).
        freeze_embeddings: make the word/position/token-type tables non-trainable.
        pad_token_id: the tokenizer's pad id.

    Raises:
        ValueError: an unknown init, a vocabulary mismatch, or a missing teacher/PCA.
    """
    check_choice("init", init, INITS)
    if spec.vocab_size != vocab.full_size:
        raise ValueError(f"spec.vocab_size={spec.vocab_size} but the restricted vocabulary "
                         f"indexes a {vocab.full_size}-token input vocabulary")
    model = restricted_student(spec, vocab, pad_token_id=pad_token_id, seed=seed)
    if init != "random":
        if pca is None:
            if teacher is None:
                raise ValueError(f"init={init!r} needs the teacher's EmbeddingPca or the teacher")
            pca = embedding_pca(teacher)
        if spec.max_position_embeddings > pca.position.shape[0]:
            raise ValueError(f"init={init!r}: spec.max_position_embeddings="
                             f"{spec.max_position_embeddings} exceeds the teacher's "
                             f"{pca.position.shape[0]} positions")
        if spec.type_vocab_size > pca.token_type.shape[0]:
            raise ValueError(f"init={init!r}: spec.type_vocab_size={spec.type_vocab_size} "
                             f"exceeds the teacher's {pca.token_type.shape[0]} token types")
        if pca.word.shape[0] != vocab.full_size:
            raise ValueError(f"init={init!r}: the teacher has {pca.word.shape[0]} word "
                             f"embeddings, the vocabulary {vocab.full_size}")
        if init == "pca":
            _pca_init_(model, spec, vocab, pca)
        else:
            if teacher is None:
                raise ValueError("init='inherit' needs the teacher model")
            inherit_(model, teacher, pca)
    if freeze_embeddings:
        emb = model.bert.embeddings
        for table in (emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings):
            table.weight.requires_grad_(False)
    return model


@functools.lru_cache(maxsize=8)
def _projected(pca: EmbeddingPca, hidden: int, ids: tuple[int, ...]) -> tuple:
    """The projected tables of one H (and the decoder rows of one Vocab), once per process."""
    import torch

    word = pca.project("word", hidden)
    return (torch.from_numpy(word), torch.from_numpy(pca.project("position", hidden)),
            torch.from_numpy(pca.project("token_type", hidden)),
            torch.from_numpy(np.ascontiguousarray(word[np.asarray(ids)])))


def _pca_init_(model: Any, spec: ArchSpec, vocab: Vocab, pca: EmbeddingPca) -> None:
    import torch

    word, pos, types, rows = _projected(pca, spec.hidden_size, vocab.ids)
    emb = model.bert.embeddings
    dec, dense = model.cls.decoder, model.cls.transform.dense
    log_u = np.log(vocab.unigram())
    with torch.no_grad():
        emb.word_embeddings.weight.copy_(word)
        emb.position_embeddings.weight.copy_(pos[: spec.max_position_embeddings])
        emb.token_type_embeddings.weight.copy_(types[: spec.type_vocab_size])
        dec.weight.copy_(rows)
        dec.bias.copy_(torch.from_numpy((log_u - log_u.mean()).astype(np.float32)))
        dense.weight.copy_(torch.eye(spec.hidden_size))
        dense.bias.zero_()


# ---------------------------------------------------------------------------------------------
# Weight inheritance.
def _even_layers(n_teacher: int, depth: int) -> list[int]:
    return [int(round(x)) for x in np.linspace(0, n_teacher - 1, depth)]


def _ln_(student_ln: Any, teacher_ln: Any, p: Any) -> None:
    """LayerNorm in the rotated basis: gain diag(Pᵀ diag(γ) P), shift Pᵀ β."""
    student_ln.weight.copy_((p * p).T @ teacher_ln.weight)
    student_ln.bias.copy_(p.T @ teacher_ln.bias)


def _reads_(student_lin: Any, teacher_lin: Any, p: Any, rows: Any = None) -> None:
    """A linear map reading the residual stream: W·P (rows: the kept outputs)."""
    w, b = teacher_lin.weight, teacher_lin.bias
    if rows is not None:
        w, b = w[rows], b[rows]
    n = w.shape[0]
    student_lin.weight[:n].copy_(w @ p)
    student_lin.bias[:n].copy_(b)


def _writes_(student_lin: Any, teacher_lin: Any, p: Any, cols: Any = None) -> None:
    """A linear map writing the residual stream: Pᵀ·W (cols: the kept inputs), Pᵀ·b."""
    w = teacher_lin.weight if cols is None else teacher_lin.weight[:, cols]
    n = w.shape[1]
    student_lin.weight[:, :n].copy_(p.T @ w)
    student_lin.weight[:, n:].zero_()
    student_lin.bias.copy_(p.T @ teacher_lin.bias)


def inherit_(student: Any, teacher: Any, pca: EmbeddingPca) -> Any:
    """Overwrite `student` (restricted head, random init) with a sub-network of `teacher`.

    See the module doc for the rule. The teacher must be a `RestrictedBertForMaskedLM` with the
    same K and the same input vocabulary.
    """
    import torch

    s_cfg, t_cfg = student.config, _bert(teacher).config
    hidden, t_heads = s_cfg.hidden_size, t_cfg.num_attention_heads
    head_size = t_cfg.hidden_size // t_heads
    t_dec, s_dec = teacher.cls.decoder, student.cls.decoder
    if t_dec.out_features != s_dec.out_features:
        raise ValueError(f"init='inherit': the teacher's head has {t_dec.out_features} outputs, "
                         f"the student's {s_dec.out_features} (another vocabulary?)")
    dev = next(student.parameters()).device
    p = torch.from_numpy(pca.basis(hidden)).to(dev)  # (r, H)
    sb, tb = student.bert, _bert(teacher)
    with torch.no_grad():
        for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
            s_tab = getattr(sb.embeddings, name).weight
            s_tab.copy_(getattr(tb.embeddings, name).weight[: s_tab.shape[0]] @ p)
        _ln_(sb.embeddings.LayerNorm, tb.embeddings.LayerNorm, p)
        layers = _even_layers(t_cfg.num_hidden_layers, s_cfg.num_hidden_layers)
        for s_layer, t_index in zip(sb.encoder.layer, layers):
            t_layer = tb.encoder.layer[t_index]
            t_att, s_att = t_layer.attention, s_layer.attention
            # heads by the norm of their slice of the output projection, kept in order
            w_o = t_att.output.dense.weight.view(-1, t_heads, head_size)
            norms = w_o.pow(2).sum(dim=(0, 2))
            n_heads = min(t_heads, -(-hidden // head_size))
            heads = sorted(norms.argsort(descending=True)[:n_heads].tolist())
            dims = torch.cat([torch.arange(h * head_size, (h + 1) * head_size) for h in heads])
            dims = dims[:hidden]
            for part in ("query", "key", "value"):
                _reads_(getattr(s_att.self, part), getattr(t_att.self, part), p, dims)
            _writes_(s_att.output.dense, t_att.output.dense, p, dims)
            _ln_(s_att.output.LayerNorm, t_att.output.LayerNorm, p)
            w_in, w_out = t_layer.intermediate.dense.weight, t_layer.output.dense.weight
            score = w_in.norm(dim=1) * w_out.norm(dim=0)
            n_neurons = min(len(score), s_cfg.intermediate_size)
            neurons = score.argsort(descending=True)[:n_neurons].sort().values
            _reads_(s_layer.intermediate.dense, t_layer.intermediate.dense, p, neurons)
            _writes_(s_layer.output.dense, t_layer.output.dense, p, neurons)
            _ln_(s_layer.output.LayerNorm, t_layer.output.LayerNorm, p)
        s_tr, t_tr = student.cls.transform, teacher.cls.transform
        s_tr.dense.weight.copy_(p.T @ t_tr.dense.weight @ p)
        s_tr.dense.bias.copy_(p.T @ t_tr.dense.bias)
        _ln_(s_tr.LayerNorm, t_tr.LayerNorm, p)
        s_dec.weight.copy_(t_dec.weight @ p)
        s_dec.bias.copy_(t_dec.bias)
    return student


__all__ = [
    "INITS",
    "EmbeddingPca",
    "embedding_pca",
    "inherit_",
    "init_student",
    "restricted_student",
]
