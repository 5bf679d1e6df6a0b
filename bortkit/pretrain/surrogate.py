"""The FPTAS surrogate error e(ξ): pretrain an architecture briefly, measure held-out error.

Project choice (DESIGN.md, OSE choice 3; the papers leave the surrogate UNKNOWN): a candidate
ξ is pretrained for a bounded number of steps with the same KD objective as the final model,
on the real corpus, and its surrogate error is the held-out masked-token error rate
(1 − accuracy) at a fixed masking seed; the held-out MLM loss and the wall time are recorded.

θ is a `bortkit.theta.Theta` (the one θ vocabulary): ``lr`` (peak AdamW learning rate),
``warmup_ratio``, ``weight_decay``, ``batch_size`` (|B|) and ``seed`` (student initialisation,
data order, masking, dropout). Everything else of a call is a `SurrogateConfig` field, so
`surrogate_error(spec, config)` is one function of one record.

`SurrogateEvaluator` adapts it to the search's `Evaluator` protocol (`bortkit.search.evaluation`):
the FPTAS gives (ξ, θ, steps, seed) and gets an `EvalResult`. The teacher, tokenizer and
tokenised corpus blocks are loaded once per process (`functools.lru_cache`), so a sweep does not
reload them per candidate; torch is imported only when a candidate is really trained, so the
evaluator is cheap to build and to pickle for process/Dask executors. On CPU the result is a
deterministic function of (spec, config, data) except `seconds`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus, build_corpus
from bortkit.pretrain.distill import OBJECTIVES, build_student
from bortkit.pretrain.engine import pretrain
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.records import PretrainConfig
from bortkit.pretrain.teacher import TeacherConfig, load_teacher, load_tokenizer
from bortkit.records import Record, check_bool, check_choice, check_int, check_positive_int
from bortkit.search.evaluation import EvalResult
from bortkit.theta import Theta

logger = logging.getLogger(__name__)

# PretrainConfig fields a `SurrogateConfig` sets itself (θ, the budget, no checkpoints), so
# `options` may not name them.
_OWN = ("steps", "batch_size", "lr", "warmup_ratio", "weight_decay", "seed", "objective",
        "eval_every", "checkpoint_every", "seq_len", "eval_blocks")
# The surrogate's θ on CPU (project choice): a short run needs a larger lr than Bort's 1e-4.
_CPU_THETA = Theta(seed=0, lr=1e-3, weight_decay=0.01, warmup_ratio=0.06, batch_size=16)


@dataclass(frozen=True)
class SurrogateResult(Record):
    """Surrogate error of one (ξ, θ): held-out masked-token error, loss, wall time."""

    error: float
    loss: float
    seconds: float
    steps: int
    n_params: int


@dataclass(frozen=True)
class SurrogateConfig(Record):
    """Everything of one surrogate call besides the architecture.

    Args:
        steps: the training budget N(ε, s) chosen by the FPTAS.
        theta: θ: lr / warmup_ratio / weight_decay / batch_size (|B|) / seed. The default is
            the surrogate's CPU setting (lr 1e-3, warm-up 6%, weight decay 0.01, |B| 16).
        seq_len: tokens per sequence (≤ the spec's max positions).
        eval_blocks: held-out blocks evaluated (the same first blocks for every candidate).
        objective: "kd" (default, the final model's objective), "mlm" or "hidden".
        teacher: the cached teacher used when `surrogate_error` is given none
            (`TeacherConfig.smoke()` for the smoke teacher).
        options: other `PretrainConfig` fields as ``((name, value), ...)`` (e.g. w_mlm,
            temperature).
    """

    steps: int = 40
    theta: Theta = _CPU_THETA
    seq_len: int = 64
    eval_blocks: int = 128
    objective: str = "kd"
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_positive_int("SurrogateConfig.steps", self.steps)
        check_int("SurrogateConfig.seq_len", self.seq_len, minimum=8)
        check_positive_int("SurrogateConfig.eval_blocks", self.eval_blocks)
        check_choice("SurrogateConfig.objective", self.objective, OBJECTIVES)
        for name, kind in (("theta", Theta), ("teacher", TeacherConfig)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"SurrogateConfig.{name} must be a {kind.__name__}, got "
                                f"{getattr(self, name)!r}")
        object.__setattr__(self, "options", tuple((str(k), v) for k, v in self.options))
        known = {f.name for f in dataclasses.fields(PretrainConfig)} - set(_OWN)
        for name, _ in self.options:
            check_choice("SurrogateConfig.options name", name, sorted(known))

    @classmethod
    def smoke(cls, **changes: Any) -> SurrogateConfig:
        """Tiny sizes for tests and smoke runs: 4 steps of batch 4 on 32-token blocks, 8
        held-out blocks, the smoke teacher; same code path."""
        smoke = {"steps": 4, "theta": dataclasses.replace(_CPU_THETA, batch_size=4),
                 "seq_len": 32, "eval_blocks": 8, "teacher": TeacherConfig.smoke()}
        return cls(**{**smoke, **changes})

    def pretrain_config(self) -> PretrainConfig:
        """The `PretrainConfig` of the bounded run: θ, the budget, no checkpoints, one
        held-out evaluation at the end."""
        th = self.theta
        return PretrainConfig(steps=self.steps, batch_size=th.batch_size, lr=th.lr,
                              warmup_ratio=th.warmup_ratio, weight_decay=th.weight_decay,
                              seed=th.seed, objective=self.objective, eval_every=0,
                              checkpoint_every=0, seq_len=self.seq_len,
                              eval_blocks=self.eval_blocks, **dict(self.options))


@functools.lru_cache(maxsize=4)
def default_teacher(config: TeacherConfig) -> tuple[Any, Any]:
    """`bortkit.pretrain.teacher.load_teacher(config)`, once per process."""
    return load_teacher(config)


@functools.lru_cache(maxsize=4)
def default_corpus(seed: int = 0) -> Corpus:
    """`bortkit.data.corpus.build_corpus(seed=seed)`, once per process."""
    return build_corpus(seed=seed)


def surrogate_error(
    spec: ArchSpec,
    config: SurrogateConfig | None = None,
    *,
    teacher: Any | None = None,
    tokenizer: Any | None = None,
    corpus: Corpus | None = None,
) -> SurrogateResult:
    """Pretrain `spec` for `config.steps` steps with `config.theta`; its held-out error.

    Args:
        spec: the candidate architecture ξ (vocab_size must be the tokenizer's).
        config: the call's budget, θ and sizes (`SurrogateConfig()` when None).
        teacher, tokenizer: default: the cached `load_teacher(config.teacher)`.
        corpus: a `bortkit.data.corpus.Corpus`; default `build_corpus()` (cached).

    Returns:
        SurrogateResult(error, loss, seconds, steps, n_params).
    """
    if not isinstance(spec, ArchSpec):
        raise TypeError(f"spec must be an ArchSpec, got {type(spec).__name__}")
    config = config if config is not None else SurrogateConfig()
    if config.seq_len > spec.max_position_embeddings:
        raise ValueError(f"seq_len={config.seq_len} exceeds spec.max_position_embeddings="
                         f"{spec.max_position_embeddings}")
    if teacher is None and config.objective != "mlm":
        teacher, default_tok = default_teacher(config.teacher)
        tokenizer = tokenizer or default_tok
    if tokenizer is None:
        tokenizer = load_tokenizer()
    corpus = corpus if corpus is not None else default_corpus(0)
    cfg = config.pretrain_config()
    blocks = corpus_blocks(corpus, tokenizer, seq_len=cfg.seq_len,
                           max_heldout_blocks=cfg.eval_blocks)
    t0 = time.perf_counter()
    student = build_student(spec, tokenizer, seed=cfg.seed)
    res = pretrain(student, cfg, tokenizer=tokenizer, train_blocks=blocks.train,
                   heldout_blocks=blocks.heldout, teacher=teacher, progress=False)
    seconds = time.perf_counter() - t0
    logger.info("surrogate %s θ=%s: error %.4f loss %.4f in %.1fs", spec.label,
                config.theta, res.final.error, res.final.loss, seconds)
    return SurrogateResult(res.final.error, res.final.loss, seconds, config.steps, res.n_params)


@dataclass(frozen=True)
class SurrogateEvaluator:
    """The search's `Evaluator` for real runs: `surrogate_error` of (ξ, θ) after `steps` steps.

    Implements `bortkit.search.evaluation.Evaluator`. θ gives lr / warmup_ratio /
    weight_decay; the call's `seed` and this evaluator's `batch_size` replace θ's (|B| is a
    setting of the evaluator, part of `version` and so of every store key).

    Args:
        batch_size: |B|, sequences per training step.
        seq_len: tokens per sequence (≤ the space's max positions).
        eval_blocks: held-out blocks evaluated (the same blocks for every candidate).
        objective: ``"kd"`` (the final model's objective), ``"mlm"`` or ``"hidden"``.
        smoke: use the smoke-sized teacher (`TeacherConfig.smoke()`).
        options: other `PretrainConfig` fields as ``((name, value), ...)``.
    """

    batch_size: int = 8
    seq_len: int = 64
    eval_blocks: int = 128
    objective: str = "kd"
    smoke: bool = False
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_bool("SurrogateEvaluator.smoke", self.smoke)
        self.config(Theta(batch_size=self.batch_size), steps=1, seed=0)  # validates the rest

    @property
    def version(self) -> str:
        extra = "".join(f",{k}={v}" for k, v in self.options)
        return (
            f"surrogate-v1(batch_size={self.batch_size},seq_len={self.seq_len},"
            f"eval_blocks={self.eval_blocks},objective={self.objective},"
            f"smoke={self.smoke}{extra})"
        )

    def config(self, theta: Theta, *, steps: int, seed: int) -> SurrogateConfig:
        """The `SurrogateConfig` of one evaluation."""
        if not isinstance(theta, Theta):
            raise TypeError(f"theta must be a bortkit.theta.Theta, got {theta!r}")
        return SurrogateConfig(
            steps=steps, theta=dataclasses.replace(theta, seed=seed, batch_size=self.batch_size),
            seq_len=self.seq_len, eval_blocks=self.eval_blocks, objective=self.objective,
            teacher=TeacherConfig.smoke() if self.smoke else TeacherConfig(),
            options=self.options)

    def evaluate(self, spec: ArchSpec, theta: Theta, *, steps: int, seed: int) -> EvalResult:
        """Train ξ = `spec` for `steps` steps with θ and the `seed`; its surrogate error."""
        res = surrogate_error(spec, self.config(theta, steps=steps, seed=seed))
        return EvalResult(error=float(res.error), loss=float(res.loss), seconds=float(res.seconds))


__all__ = [
    "SurrogateConfig",
    "SurrogateEvaluator",
    "SurrogateResult",
    "default_corpus",
    "default_teacher",
    "surrogate_error",
]
