"""The records of KD pretraining: `PretrainConfig` (a run's settings), `LearningCurve` (the
learning curve, persisted in checkpoints so a resumed run's curve is complete) and
`PretrainResult` (what `bortkit.pretrain.engine.pretrain` returns and writes as `result.json`;
`PretrainResult.load(run_dir).model_dir` is the hand-off to fine-tuning)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from bortkit.arch import ArchSpec
from bortkit.pretrain.distill import KD_VARIANTS, OBJECTIVES
from bortkit.pretrain.init import INITS
from bortkit.pretrain.mlm import MlmEval
from bortkit.records import (
    Record,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_positive_int,
)


@dataclass(frozen=True)
class PretrainConfig(Record):
    """Everything that defines a pretraining run (defaults: the released Bort code's loss).

    Args:
        steps: optimiser steps.
        batch_size: global batch (sequences); split across processes.
        lr, warmup_ratio, weight_decay: AdamW with linear warm-up then linear decay to 0
            (Bort code: lr 1e-4, warm-up 1%, wd 0.01 at GPU scale; CPU runs use larger lr).
        objective: "kd" (logit KD), "mlm" (plain MLM, no teacher) or "hidden" (hidden-state KD;
            needs a live teacher: the teacher cache stores no hidden states).
        init: how `pretrain` initialises a student given as an `ArchSpec`: "pca" (project
            choice, measured in docs/results.md: word/position embeddings and the restricted
            decoder from the PCA projection of the teacher's embeddings), "random" (BERT's
            initialisation, the paper's) or "inherit" (a sub-network of a live teacher); see
            `bortkit.pretrain.init`. Recorded only when a built model is passed.
        freeze_embeddings: keep the student's embedding tables fixed (same condition).
        w_mlm, w_kd, temperature, kd_variant: see `bortkit.pretrain.distill.kd_loss`.
        mlm_probability: fraction of tokens masked (BERT 80/10/10).
        grad_clip: max global gradient norm (None = off).
        clip_weights: clamp weights to [-c, c] after each step (paper (a); None = off).
        eval_every: held-out evaluation period in steps (0 = only at the end).
        checkpoint_every: checkpoint period in steps (0 = none); needs an output_dir.
        keep_checkpoints: how many checkpoints to keep.
        eval_seed: masking seed of held-out evaluation (same masks for every model).
        seed: data order, masking, dropout and initialisation.
        seq_len, eval_blocks, max_train_blocks, max_chars: the data slice, as
            `bortkit.pretrain.mlm.corpus_blocks` cuts it: tokens per block (`pretrain` checks
            that its blocks have it), held-out blocks kept (the same first blocks for every
            model), training blocks kept and characters tokenised per corpus split (None: all).
            Recorded with the run, so a result says what data it saw.
    """

    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    objective: str = "kd"
    init: str = "pca"
    freeze_embeddings: bool = False
    w_mlm: float = 0.1
    w_kd: float = 0.5
    temperature: float = 2.0
    kd_variant: str = "kl"
    mlm_probability: float = 0.15
    grad_clip: float | None = 1.0
    clip_weights: float | None = None
    eval_every: int = 50
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    eval_seed: int = 1234
    seed: int = 0
    seq_len: int = 64
    eval_blocks: int = 128
    max_train_blocks: int | None = None
    max_chars: int | None = None

    def __post_init__(self) -> None:
        name = "PretrainConfig."
        for f in ("steps", "batch_size", "keep_checkpoints", "eval_blocks"):
            check_positive_int(name + f, getattr(self, f))
        for f in ("eval_every", "checkpoint_every", "seed", "eval_seed"):
            check_int(name + f, getattr(self, f), minimum=0)
        check_int(name + "seq_len", self.seq_len, minimum=8)
        for f in ("max_train_blocks", "max_chars"):
            if getattr(self, f) is not None:
                check_positive_int(name + f, getattr(self, f))
        check_positive(name + "lr", self.lr)
        check_float(name + "warmup_ratio", self.warmup_ratio, low=0.0, high=1.0, high_open=True)
        check_float(name + "weight_decay", self.weight_decay, low=0.0)
        check_choice(name + "objective", self.objective, OBJECTIVES)
        check_choice(name + "init", self.init, INITS)
        check_bool(name + "freeze_embeddings", self.freeze_embeddings)
        check_choice(name + "kd_variant", self.kd_variant, KD_VARIANTS)
        check_float(name + "w_mlm", self.w_mlm, low=0.0)
        check_float(name + "w_kd", self.w_kd, low=0.0)
        check_positive(name + "temperature", self.temperature)
        check_float(name + "mlm_probability", self.mlm_probability, low=0.0, high=1.0,
                    low_open=True, high_open=True)
        for f in ("grad_clip", "clip_weights"):
            if getattr(self, f) is not None:
                check_positive(name + f, getattr(self, f))

    @classmethod
    def smoke(cls, **changes: Any) -> PretrainConfig:
        """Notebook 03's smoke run: 10 steps of batch 4 on 32-token sequences (the smoke teacher
        cache's, `CacheConfig.smoke()`) or a corpus slice, evaluated and checkpointed every 5
        steps (so it needs an output_dir), same code path."""
        return cls(**{"steps": 10, "batch_size": 4, "eval_every": 5, "checkpoint_every": 5,
                      "eval_blocks": 16, "max_train_blocks": 64, "max_chars": 40_000,
                      "seq_len": 32, **changes})


def _nan(value: float | None) -> float:
    """`value` as a float, with None and every NaN as the one `math.nan` object."""
    return math.nan if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True)
class LearningCurve(Record):
    """The record of a run: training loss per step, held-out metrics per evaluation.

    `series(metric)` gives (steps, values) for "train_loss", "train_mlm", "train_kd",
    "eval_error", "eval_accuracy", "eval_loss", "eval_kl" (the protocol `bortkit.plots.training`
    reads). `eval_kl` is the normalised KL to the cached teacher (0 = teacher, 1 = unigram;
    NaN for runs without the teacher cache).
    """

    steps: tuple[int, ...] = ()
    train_loss: tuple[float, ...] = ()
    train_mlm: tuple[float, ...] = ()
    train_kd: tuple[float, ...] = ()
    seconds: tuple[float, ...] = ()
    eval_steps: tuple[int, ...] = ()
    eval_error: tuple[float, ...] = ()
    eval_loss: tuple[float, ...] = ()
    eval_kl: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        # JSON has no NaN (saved as null), and curves written before eval_kl existed lack it:
        # both read back as `math.nan` itself, so a reloaded curve compares equal.
        kl = tuple(_nan(v) for v in self.eval_kl)
        object.__setattr__(self, "eval_kl",
                           (math.nan,) * (len(self.eval_steps) - len(kl)) + kl)

    def add_step(self, step: int, loss: float, mlm: float, kd: float, seconds: float
                 ) -> LearningCurve:
        return dataclasses.replace(
            self, steps=self.steps + (step,), train_loss=self.train_loss + (loss,),
            train_mlm=self.train_mlm + (mlm,), train_kd=self.train_kd + (kd,),
            seconds=self.seconds + (seconds,))

    def add_eval(self, step: int, ev: MlmEval, kl: float = math.nan) -> LearningCurve:
        return dataclasses.replace(
            self, eval_steps=self.eval_steps + (step,), eval_error=self.eval_error + (ev.error,),
            eval_loss=self.eval_loss + (ev.loss,), eval_kl=self.eval_kl + (_nan(kl),))

    def series(self, metric: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        if metric in ("train_loss", "train_mlm", "train_kd", "seconds"):
            return self.steps, getattr(self, metric)
        if metric in ("eval_error", "eval_loss", "eval_kl"):
            return self.eval_steps, getattr(self, metric)
        if metric == "eval_accuracy":
            return self.eval_steps, tuple(1.0 - e for e in self.eval_error)
        raise ValueError(f"unknown metric {metric!r}; use train_loss, train_mlm, train_kd, "
                         "seconds, eval_error, eval_accuracy, eval_loss or eval_kl")



@dataclass(frozen=True)
class PretrainResult(Record):
    """What a pretraining run returns (and writes as `result.json` in its output folder).

    `PretrainResult.load(run_dir)` reads it back; `model_dir` is the hand-off to fine-tuning
    (`bortkit.pretrain.export.export_student`: a plain `BertModel` folder for a restricted-head
    student, the `BertForMaskedLM` folder for a full-vocabulary one; an absolute path; None for
    runs without an output folder); `mlm_dir` the restricted student with its MLM head.
    `spec` is the student's shape (None only in results written before it was recorded).
    `extra["teacher_accuracy"]`: the cached teacher's accuracy on the same held-out rows.
    """

    file_name = "result.json"

    config: PretrainConfig
    curve: LearningCurve
    final: MlmEval
    final_train_loss: float
    steps: int
    seconds: float
    n_params: int
    resumed_from: int = 0
    model_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    spec: ArchSpec | None = None
    mlm_dir: str | None = None


__all__ = ["LearningCurve", "PretrainConfig", "PretrainResult"]
