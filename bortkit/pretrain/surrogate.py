"""The FPTAS surrogate error e(ξ): pretrain an architecture briefly, measure held-out error.

Project choice (DESIGN.md, OSE choice 3; the papers leave the surrogate UNKNOWN): a candidate
ξ is pretrained for a bounded number of steps with the same KD objective as the final model,
on the real corpus, and its surrogate error is the held-out masked-token error rate
(1 − accuracy) at a fixed masking seed; the held-out MLM loss and the wall time are recorded.

θ (one hyperparameter set of Θ) is a mapping (or an object with these attributes):
    lr            peak AdamW learning rate            (default 1e-3)
    warmup_ratio  fraction of steps of linear warm-up (default 0.06)
    weight_decay  AdamW decoupled weight decay        (default 0.01)
Unknown keys are an error, so a typo cannot silently fall back to a default.

The teacher, tokenizer and tokenised corpus blocks are loaded once per process
(`functools.lru_cache`), so an FPTAS sweep does not reload them per candidate. On CPU the result
is a deterministic function of (spec, steps, θ, seed, data, sizes) except `seconds`.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, fields
from typing import Any, Mapping

from bortkit.arch import ArchSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainTheta:
    """One θ for surrogate pretraining (see the module docstring)."""

    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01

    @classmethod
    def coerce(cls, theta: Any) -> PretrainTheta:
        """From a mapping, a `PretrainTheta`, an object with these attributes, or None."""
        if theta is None:
            return cls()
        if isinstance(theta, cls):
            return theta
        names = [f.name for f in fields(cls)]
        if isinstance(theta, Mapping):
            unknown = sorted(set(theta) - set(names))
            if unknown:
                raise ValueError(f"theta has unknown keys {unknown}; valid keys: {names}")
            return cls(**{k: float(v) for k, v in theta.items()})
        if all(hasattr(theta, n) for n in names):
            return cls(**{n: float(getattr(theta, n)) for n in names})
        raise TypeError(f"theta must be a mapping or have attributes {names}, got {theta!r}")

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PretrainTheta:
        return cls.coerce(data)


@dataclass(frozen=True)
class SurrogateResult:
    """Surrogate error of one (ξ, θ, seed): held-out masked-token error, loss, wall time."""

    error: float
    loss: float
    seconds: float
    steps: int
    n_params: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurrogateResult:
        return cls(float(data["error"]), float(data["loss"]), float(data["seconds"]),
                   int(data["steps"]), int(data["n_params"]))


@dataclass(frozen=True)
class Blocks:
    """Tokenised corpus blocks: (n, seq_len) LongTensors for training and held-out eval."""

    train: Any
    heldout: Any

    @property
    def seq_len(self) -> int:
        return int(self.train.shape[1])


@functools.lru_cache(maxsize=4)
def default_teacher(smoke: bool = False) -> tuple[Any, Any]:
    """`bortkit.pretrain.teacher.load_teacher(smoke=smoke)`, once per process."""
    from bortkit.pretrain.teacher import load_teacher

    return load_teacher(smoke=smoke)


@functools.lru_cache(maxsize=4)
def default_corpus(seed: int = 0) -> Any:
    """`bortkit.data.corpus.build_corpus(seed=seed)`, once per process."""
    from bortkit.data.corpus import build_corpus

    return build_corpus(seed=seed)


_BLOCKS: dict[tuple[Any, ...], Blocks] = {}


def corpus_blocks(corpus: Any, tokenizer: Any, *, seq_len: int = 64,
                  max_train_blocks: int | None = None,
                  max_heldout_blocks: int | None = None,
                  max_chars: int | None = None) -> Blocks:
    """Cut a corpus's train and held-out texts into blocks (`bortkit.pretrain.mlm.chunk_texts`).

    Cached in-process by (corpus key, tokenizer name and size, seq_len, max_chars); the caps
    keep the first blocks (held-out blocks are the evaluation set, so a cap fixes it for all
    models). `max_chars` tokenises only the leading texts of each split up to about that many
    characters (smoke runs: skips tokenising the whole corpus).
    """
    from bortkit.pretrain.mlm import chunk_texts

    def head(texts: Any) -> list[str]:
        if max_chars is None:
            return list(texts)
        kept, n = [], 0
        for t in texts:
            kept.append(t[: max_chars - n])
            n += len(kept[-1])
            if n >= max_chars:
                break
        return kept

    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be >= 1 or None, got {max_chars}")
    ckey = getattr(corpus, "key", "") or hash((corpus.train_texts, corpus.heldout_texts))
    key = (ckey, getattr(tokenizer, "name_or_path", ""), len(tokenizer), seq_len, max_chars)
    if key not in _BLOCKS:
        if len(_BLOCKS) >= 8:
            _BLOCKS.pop(next(iter(_BLOCKS)))
        _BLOCKS[key] = Blocks(chunk_texts(head(corpus.train_texts), tokenizer, seq_len),
                              chunk_texts(head(corpus.heldout_texts), tokenizer, seq_len))
    full = _BLOCKS[key]
    for name, cap in (("max_train_blocks", max_train_blocks),
                      ("max_heldout_blocks", max_heldout_blocks)):
        if cap is not None and cap < 1:
            raise ValueError(f"{name} must be >= 1 or None, got {cap}")
    return Blocks(full.train[:max_train_blocks], full.heldout[:max_heldout_blocks])


def surrogate_error(
    spec: ArchSpec,
    *,
    steps: int,
    theta: Any = None,
    seed: int = 0,
    teacher: Any | None = None,
    tokenizer: Any | None = None,
    corpus: Any | None = None,
    batch_size: int = 16,
    seq_len: int = 64,
    eval_blocks: int = 128,
    objective: str = "kd",
    smoke: bool = False,
    **config: Any,
) -> SurrogateResult:
    """Pretrain `spec` for `steps` steps with θ and return its held-out masked-token error.

    Args:
        spec: the candidate architecture ξ (vocab_size must be the tokenizer's).
        steps: the training budget N(ε, s) chosen by the FPTAS.
        theta: lr / warmup_ratio / weight_decay (see `PretrainTheta`); None = defaults.
        seed: student initialisation, data order, masking and dropout.
        teacher, tokenizer: default `bortkit.pretrain.teacher.load_teacher(smoke=smoke)` (cached).
        corpus: a `bortkit.data.corpus.Corpus`; default `build_corpus()` (cached).
        batch_size, seq_len: |B| and tokens per sequence.
        eval_blocks: held-out blocks evaluated (the same first blocks for every candidate).
        objective: "kd" (default, the final model's objective), "mlm" or "hidden".
        smoke: use the smoke teacher when `teacher` is None.
        config: other `PretrainConfig` fields (e.g. w_mlm, temperature).

    Returns:
        SurrogateResult(error, loss, seconds, steps, n_params).
    """
    from bortkit.pretrain.distill import build_student
    from bortkit.pretrain.engine import PretrainConfig, pretrain

    if not isinstance(spec, ArchSpec):
        raise TypeError(f"spec must be an ArchSpec, got {type(spec).__name__}")
    th = PretrainTheta.coerce(theta)
    if teacher is None and objective != "mlm":
        teacher, default_tok = default_teacher(smoke)
        tokenizer = tokenizer or default_tok
    if tokenizer is None:
        from bortkit.pretrain.teacher import load_tokenizer

        tokenizer = load_tokenizer()
    corpus = corpus if corpus is not None else default_corpus(0)
    if seq_len > spec.max_position_embeddings:
        raise ValueError(f"seq_len={seq_len} exceeds spec.max_position_embeddings="
                         f"{spec.max_position_embeddings}")
    blocks = corpus_blocks(corpus, tokenizer, seq_len=seq_len, max_heldout_blocks=eval_blocks)
    cfg = PretrainConfig(steps=steps, batch_size=batch_size, lr=th.lr,
                         warmup_ratio=th.warmup_ratio, weight_decay=th.weight_decay,
                         objective=objective, eval_every=0, checkpoint_every=0, seed=seed,
                         **config)
    t0 = time.perf_counter()
    student = build_student(spec, tokenizer, seed=seed)
    res = pretrain(student, tokenizer=tokenizer, train_blocks=blocks.train,
                   heldout_blocks=blocks.heldout, teacher=teacher, config=cfg, progress=False)
    seconds = time.perf_counter() - t0
    logger.info("surrogate %s θ=%s: error %.4f loss %.4f in %.1fs", spec.label, th.to_dict(),
                res.final.error, res.final.loss, seconds)
    return SurrogateResult(res.final.error, res.final.loss, seconds, steps, res.n_params)


__all__ = [
    "Blocks",
    "PretrainTheta",
    "SurrogateResult",
    "corpus_blocks",
    "default_corpus",
    "default_teacher",
    "surrogate_error",
]
