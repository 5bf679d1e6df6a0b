"""The FPTAS surrogate error e(ξ): train a candidate briefly against the cached teacher.

Project choices (the papers leave the surrogate UNKNOWN; docs/design/pretrain.md has the
measurements behind them):

- **Teacher outputs from the cache** (`bortkit.pretrain.cache`): the teacher's top-k logits on a
  fixed, seeded stream of masked training sequences and on fixed held-out sequences are computed
  once; a surrogate call then costs only the student. Batch k of a call with |B| sequences is
  rows k·|B| … (k+1)·|B| − 1 of the stored stream, so every candidate sees the same data and
  masks; θ's seed drives the student's initialisation and dropout.
- **The student** has the full input vocabulary and a restricted K-way output head over the
  teacher's `Vocab`; ``init`` ("pca" default, "random", "inherit") and ``freeze_embeddings`` are
  described in `bortkit.pretrain.init`. Its loss is the KD loss against the teacher's top-k
  distribution renormalised over its top k (`bortkit.pretrain.distill.topk_kd_loss`, temperature
  ``temperature``, default 1: the surrogate trains what it measures), optionally plus
  ``w_mlm`` · cross-entropy with the gold token.
- **The error** (``error``):
  * ``"kl"`` (default): e = Σ_j KL(t_j ‖ s_j) / Σ_j KL(t_j ‖ u) over the held-out masked
    positions j, t_j the teacher's top-k distribution renormalised, s_j the student's K-way
    softmax, u the Vocab's unigram distribution. 0 = the teacher, 1 = the unigram predictor
    (a student worse than unigram scores above 1). It is continuous and moves with every
    improvement of the student's whole distribution, where accuracy moves only when an argmax
    changes (the first build measured e = 0.885, "predict *the*", for 8 of 10 shapes).
  * ``"accuracy"``: 1 − held-out masked-token accuracy over the restricted labels (the old
    error; positions whose token is outside the Vocab are not scored).
  Both are always computed (`SurrogateResult.kl`, `.accuracy`); ``error`` picks which one
  the FPTAS ranks by.

How the error changes W = ((p_T − p)/p_T) · ((i_T − i)/i_T) / e: W multiplies the cost savings
by 1/e, so only e's *ratios* between candidates matter. With a flat e (accuracy on the plateau)
W is decided by cost alone and the smallest shape wins. The KL error spans a wide range (from
about 1 for a shape still at the unigram level to well below it for one that learns), so a
candidate twice as far from unigram as another may cost up to twice as much and still win: the
trade-off is between cost and "fraction of the teacher's advantage over unigram not yet
learned".

θ is a `bortkit.theta.Theta` (lr, warmup_ratio, weight_decay, batch_size, seed). Everything else
of a call is a `SurrogateConfig` field, so `surrogate_error(spec, config)` is one function of one
record; `SurrogateEvaluator` adapts it to the search's `Evaluator` protocol. Training and
evaluation run on `resolve_device(config.device)`; on CPU the result is a deterministic function
of (spec, config, cache) except `seconds`.

Keeping weights (off by default): with ``keep_weights=DIR`` each trained candidate's student is
kept as a loadable HF folder ``DIR/<shape>-<θ>-s<steps>-seed<seed>-<settings digest>``
(`bortkit.pretrain.export.keep_checkpoint`: atomic; ``DIR`` as a whole stays under
``keep_max_mb``, and past it no more are kept, with one warning; nothing is ever deleted). Its
path travels back in `SurrogateResult.checkpoint` / `EvalResult.checkpoint`, so the FPTAS
result's candidates know their checkpoints (one from this run; a result read back from a
results store has none).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain import teacher as teacher_lib
from bortkit.pretrain.cache import CacheConfig, CachedOutputs, TeacherCache, teacher_cache
from bortkit.pretrain.cached_kd import (
    cached_tensors,
    heldout_metrics,
    stream_rows,
    student_logits,
    train_student,
)
from bortkit.pretrain.export import keep_checkpoint
from bortkit.pretrain.init import INITS, init_student
from bortkit.records import (
    Record,
    check_bool,
    check_choice,
    check_float,
    check_positive,
    check_positive_int,
)
from bortkit.search.evaluation import EvalResult
from bortkit.theta import Theta
from bortkit.utils import resolve_device

logger = logging.getLogger(__name__)

ERRORS = ("kl", "accuracy")
# The surrogate's θ on CPU (project choice): a short run needs a larger lr than Bort's 1e-4.
_CPU_THETA = Theta(seed=0, lr=1e-3, weight_decay=0.01, warmup_ratio=0.06, batch_size=8)


@dataclass(frozen=True)
class SurrogateResult(Record):
    """One surrogate call: the error the config names, both errors, loss, cost.

    Attributes:
        error: the surrogate error e (`kl` or 1 − `accuracy`, by `SurrogateConfig.error`).
        loss: held-out cross-entropy with the gold token over the restricted vocabulary.
        seconds: training + evaluation wall time.
        steps: training steps.
        n_params: the student's parameters (restricted head included).
        kl: the normalised KL error (0 = teacher, 1 = unigram).
        accuracy: held-out masked-token accuracy over the restricted labels.
        kl_nats: mean KL(teacher ‖ student) per held-out masked position, in nats.
        checkpoint: the kept student's folder ("" when weights are not kept).
    """

    error: float
    loss: float
    seconds: float
    steps: int
    n_params: int
    kl: float = float("nan")
    accuracy: float = float("nan")
    kl_nats: float = float("nan")
    checkpoint: str = ""


@dataclass(frozen=True)
class SurrogateConfig(Record):
    """Everything of one surrogate call besides the architecture.

    Args:
        steps: the training budget N(ε, s) chosen by the FPTAS.
        theta: θ: lr / warmup_ratio / weight_decay / batch_size (|B|) / seed (the student's
            initialisation and dropout). Default: the surrogate's CPU setting (lr 1e-3,
            warm-up 6%, weight decay 0.01, |B| 8).
        error: "kl" (default) or "accuracy" (see the module doc).
        init: "pca" (default), "random" or "inherit" (`bortkit.pretrain.init`).
        freeze_embeddings: keep the embedding tables fixed during the bounded training
            (default: measured as ranking as well as training them, at up to half the step
            time; docs/results.md "Teacher-output cache and surrogate fidelity").
        temperature: T of the KD term (both distributions; the term is scaled by T²).
        w_kd, w_mlm: weights of the KD term and of the gold cross-entropy.
        grad_clip: max global gradient norm (None: off).
        device: "auto" (CUDA when present), "cpu" or "cuda".
        cache: the teacher-output cache (`CacheConfig`; its teacher is the one distilled).
    """

    steps: int = 100
    theta: Theta = _CPU_THETA
    error: str = "kl"
    init: str = "pca"
    freeze_embeddings: bool = True
    temperature: float = 1.0
    w_kd: float = 1.0
    w_mlm: float = 0.0
    grad_clip: float | None = 1.0
    device: str = "auto"
    cache: CacheConfig = field(default_factory=CacheConfig)

    def __post_init__(self) -> None:
        check_positive_int("SurrogateConfig.steps", self.steps)
        check_choice("SurrogateConfig.error", self.error, ERRORS)
        check_choice("SurrogateConfig.init", self.init, INITS)
        check_bool("SurrogateConfig.freeze_embeddings", self.freeze_embeddings)
        check_positive("SurrogateConfig.temperature", self.temperature)
        check_float("SurrogateConfig.w_kd", self.w_kd, low=0.0)
        check_float("SurrogateConfig.w_mlm", self.w_mlm, low=0.0)
        if self.w_kd == 0 and self.w_mlm == 0:
            raise ValueError("SurrogateConfig: w_kd and w_mlm are both 0 (nothing to train)")
        if self.grad_clip is not None:
            check_positive("SurrogateConfig.grad_clip", self.grad_clip)
        for name, kind in (("theta", Theta), ("cache", CacheConfig)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"SurrogateConfig.{name} must be a {kind.__name__}, got "
                                f"{getattr(self, name)!r}")

    @classmethod
    def smoke(cls, **changes: Any) -> SurrogateConfig:
        """Tiny sizes for tests and smoke runs: 4 steps of |B| 4 on the smoke cache (32-token
        sequences, the smoke teacher); same code path."""
        smoke = {"steps": 4, "theta": dataclasses.replace(_CPU_THETA, batch_size=4),
                 "cache": CacheConfig.smoke()}
        return cls(**{**smoke, **changes})


# ---------------------------------------------------------------------------------------------
# The cache, opened once per process.
@functools.lru_cache(maxsize=4)
def default_cache(config: CacheConfig) -> CachedOutputs:
    """`teacher_cache(config).open()` (built if missing), once per process."""
    return teacher_cache(config).open()


@functools.lru_cache(maxsize=4)
def default_teacher(config: teacher_lib.TeacherConfig) -> Any:
    """The teacher model of `config` (``init="inherit"`` only), once per process."""
    return teacher_lib.load_teacher(config)[0]


@functools.lru_cache(maxsize=1)
def default_tokenizer() -> Any:
    """The teacher's tokenizer, saved beside kept weights, once per process."""
    return teacher_lib.load_tokenizer()


def checkpoint_name(spec: ArchSpec, config: SurrogateConfig) -> str:
    """The kept folder's name: ``<shape>-<θ>-s<steps>-seed<seed>-<digest>``.

    The digest (8 hex digits of the config without `device`) tells apart students trained
    with other settings (init, error, teacher, cache) that would otherwise share the name.
    """
    t = config.theta
    theta = f"lr{t.lr:g}-wd{t.weight_decay:g}-wu{t.warmup_ratio:g}-bs{t.batch_size}"
    settings = {k: v for k, v in config.to_dict().items() if k != "device"}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f"{spec.label}-{theta}-s{config.steps}-seed{t.seed}-{digest}"


_WARNED_FULL: set[str] = set()  # keep folders already warned about (one warning each)


def _keep(student: Any, spec: ArchSpec, config: SurrogateConfig, tokenizer: Any | None,
          folder: str, max_mb: float, error: float) -> str:
    """Keep `student` under `folder` (see `keep_checkpoint`); its path, or "" past the bound."""
    meta = {"spec": spec.to_dict(), "config": config.to_dict(), "error": error}
    path = keep_checkpoint(student, tokenizer or default_tokenizer(), folder,
                           checkpoint_name(spec, config), max_mb=max_mb, meta=meta)
    if path is None:
        if folder not in _WARNED_FULL:
            _WARNED_FULL.add(folder)
            logger.warning("keep_weights: %s would pass keep_max_mb=%g MB; weights of further "
                           "candidates are not kept (nothing was deleted)", folder, max_mb)
        return ""
    return str(path)


def surrogate_error(
    spec: ArchSpec,
    config: SurrogateConfig | None = None,
    *,
    cache: TeacherCache | CachedOutputs | None = None,
    teacher: Any | None = None,
    tokenizer: Any | None = None,
    corpus: Corpus | None = None,
    keep_weights: str = "",
    keep_max_mb: float = 500.0,
) -> SurrogateResult:
    """Train `spec` for `config.steps` steps against the cached teacher; its held-out error.

    Args:
        spec: the candidate architecture ξ (vocab_size: the tokenizer's).
        config: the call's budget, θ and options (`SurrogateConfig()` when None).
        cache: an opened or built teacher cache; default: `teacher_cache(config.cache, ...)`
            with the arguments below (built once, then read from disk).
        teacher: the teacher model (used to build the cache when it is missing, and by
            ``init="inherit"``; default: `load_teacher(config.cache.teacher)`).
        tokenizer, corpus: passed to `teacher_cache` (defaults: MiniLM's, `build_corpus()`);
            the tokenizer is also saved beside kept weights.
        keep_weights: a folder to keep the trained student in (`checkpoint_name`); "": off.
        keep_max_mb: bound on that folder's total size, in MB.

    Returns:
        SurrogateResult(error, loss, seconds, steps, n_params, kl, accuracy, kl_nats,
        checkpoint).
    """
    if not isinstance(spec, ArchSpec):
        raise TypeError(f"spec must be an ArchSpec, got {type(spec).__name__}")
    config = config if config is not None else SurrogateConfig()
    if not isinstance(config, SurrogateConfig):
        raise TypeError(f"config must be a SurrogateConfig, got {type(config).__name__}")
    if config.cache.seq_len > spec.max_position_embeddings:
        raise ValueError(f"the cache's seq_len={config.cache.seq_len} exceeds "
                         f"spec.max_position_embeddings={spec.max_position_embeddings}")
    device = resolve_device(config.device)
    if cache is None and teacher is None and tokenizer is None and corpus is None:
        outputs = default_cache(config.cache)
    elif cache is None:
        outputs = teacher_cache(config.cache, teacher=teacher, tokenizer=tokenizer,
                                corpus=corpus).open()
    else:
        outputs = cache if isinstance(cache, CachedOutputs) else cache.open()
    if config.init == "inherit" and teacher is None:
        teacher = default_teacher(outputs.meta.config.teacher)
    train, heldout, log_u = cached_tensors(outputs, device)
    b = config.theta.batch_size
    if config.steps * b > len(train):
        logger.info("surrogate: %d steps × %d sequences pass %.1f times over the %d cached "
                    "training sequences", config.steps, b, config.steps * b / len(train),
                    len(train))
    t0 = time.perf_counter()
    student = init_student(spec, outputs.vocab, init=config.init, seed=config.theta.seed,
                           pca=outputs.pca, teacher=teacher,
                           freeze_embeddings=config.freeze_embeddings,
                           pad_token_id=outputs.meta.pad_token_id)
    train_student(student, lambda step: stream_rows(train, step * b, b), steps=config.steps,
                  theta=config.theta, device=device, w_kd=config.w_kd, w_mlm=config.w_mlm,
                  temperature=config.temperature, grad_clip=config.grad_clip)
    m = heldout_metrics(student_logits(student), heldout, log_u)
    seconds = time.perf_counter() - t0
    error = m.kl if config.error == "kl" else 1.0 - m.accuracy
    n_params = sum(p.numel() for p in student.parameters())
    logger.info("surrogate %s θ=%s: e=%.4f (kl %.4f, acc %.4f) in %.1fs", spec.label,
                config.theta.label, error, m.kl, m.accuracy, seconds)
    kept = (_keep(student, spec, config, tokenizer, keep_weights, keep_max_mb, error)
            if keep_weights else "")
    return SurrogateResult(error=error, loss=m.loss, seconds=seconds, steps=config.steps,
                           n_params=n_params, kl=m.kl, accuracy=m.accuracy, kl_nats=m.kl_nats,
                           checkpoint=kept)


@dataclass(frozen=True)
class SurrogateEvaluator:
    """The search's `Evaluator` for real runs: `surrogate_error` of (ξ, θ) after `steps` steps.

    Implements `bortkit.search.evaluation.Evaluator`. θ gives lr / warmup_ratio /
    weight_decay; the call's `seed` and this evaluator's `batch_size` replace θ's (|B| is a
    setting of the evaluator, part of `version` and so of every store key).

    Args:
        batch_size: |B|, sequences per training step.
        seq_len: tokens per sequence (the cache's; ≤ the space's max positions).
        error: "kl" (default) or "accuracy".
        init: "pca" (default), "random" or "inherit".
        freeze_embeddings: keep the embedding tables fixed (default).
        smoke: the smoke cache and teacher (`CacheConfig.smoke()`).
        device: "auto", "cpu" or "cuda" (not part of `version`).
        cache: the teacher-output cache settings (default: `CacheConfig(seq_len=seq_len)`, or
            `CacheConfig.smoke(seq_len=seq_len)` with `smoke`).
        keep_weights: a folder to keep each trained candidate's student in ("": off, the
            default; not part of `version`: it changes no result).
        keep_max_mb: bound on that folder's total size, in MB (past it, no more are kept).
    """

    batch_size: int = 8
    seq_len: int = 64
    error: str = "kl"
    init: str = "pca"
    freeze_embeddings: bool = True
    smoke: bool = False
    device: str = "auto"
    cache: CacheConfig | None = None
    keep_weights: str = ""
    keep_max_mb: float = 500.0

    def __post_init__(self) -> None:
        check_bool("SurrogateEvaluator.smoke", self.smoke)
        check_positive_int("SurrogateEvaluator.batch_size", self.batch_size)
        if not isinstance(self.keep_weights, str):
            raise TypeError(f"SurrogateEvaluator.keep_weights must be a folder path (str), got "
                            f"{self.keep_weights!r}")
        check_positive("SurrogateEvaluator.keep_max_mb", self.keep_max_mb)
        self.config(Theta(batch_size=self.batch_size), steps=1, seed=0)  # validates the rest

    def cache_config(self) -> CacheConfig:
        """The cache this evaluator reads."""
        if self.cache is not None:
            if self.cache.seq_len != self.seq_len:
                raise ValueError(f"SurrogateEvaluator.seq_len={self.seq_len} but the cache's "
                                 f"seq_len={self.cache.seq_len}")
            return self.cache
        return (CacheConfig.smoke(seq_len=self.seq_len) if self.smoke
                else CacheConfig(seq_len=self.seq_len))

    @property
    def version(self) -> str:
        c = self.cache_config()
        cache = ",".join(f"{k}={v}" for k, v in c.key_fields().items())
        return (f"surrogate-v2(batch_size={self.batch_size},error={self.error},init={self.init},"
                f"freeze_embeddings={self.freeze_embeddings},smoke={self.smoke},"
                f"teacher={c.teacher.key()},cache({cache}))")

    def config(self, theta: Theta, *, steps: int, seed: int) -> SurrogateConfig:
        """The `SurrogateConfig` of one evaluation."""
        if not isinstance(theta, Theta):
            raise TypeError(f"theta must be a bortkit.theta.Theta, got {theta!r}")
        return SurrogateConfig(
            steps=steps, theta=dataclasses.replace(theta, seed=seed, batch_size=self.batch_size),
            error=self.error, init=self.init, freeze_embeddings=self.freeze_embeddings,
            device=self.device, cache=self.cache_config())

    def evaluate(self, spec: ArchSpec, theta: Theta, *, steps: int, seed: int) -> EvalResult:
        """Train ξ = `spec` for `steps` steps with θ and the `seed`; its surrogate error."""
        res = surrogate_error(spec, self.config(theta, steps=steps, seed=seed),
                              keep_weights=self.keep_weights, keep_max_mb=self.keep_max_mb)
        return EvalResult(error=float(res.error), loss=float(res.loss), seconds=float(res.seconds),
                          checkpoint=res.checkpoint)


__all__ = [
    "ERRORS",
    "SurrogateConfig",
    "SurrogateEvaluator",
    "SurrogateResult",
    "checkpoint_name",
    "default_cache",
    "default_teacher",
    "default_tokenizer",
    "surrogate_error",
]
