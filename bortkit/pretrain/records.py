"""The records of KD pretraining: `PretrainConfig` (a run's settings), `LearningCurve` (the
learning curve, persisted in checkpoints so a resumed run's curve is complete) and
`PretrainResult` (what `bortkit.pretrain.engine.pretrain` returns and writes as `result.json`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bortkit.pretrain.mlm import MlmEval


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pretraining run (defaults: the released Bort code's loss).

    Args:
        steps: optimiser steps.
        batch_size: global batch (sequences); split across processes.
        lr, warmup_ratio, weight_decay: AdamW with linear warm-up then linear decay to 0
            (Bort code: lr 1e-4, warm-up 1%, wd 0.01 at GPU scale; CPU runs use larger lr).
        objective: "kd" (logit KD), "mlm" (plain MLM, no teacher) or "hidden" (hidden-state KD).
        w_mlm, w_kd, temperature, kd_variant: see `bortkit.pretrain.distill.kd_loss`.
        mlm_probability: fraction of tokens masked (BERT 80/10/10).
        grad_clip: max global gradient norm (None = off).
        clip_weights: clamp weights to [-c, c] after each step (paper (a); None = off).
        eval_every: held-out evaluation period in steps (0 = only at the end).
        checkpoint_every: checkpoint period in steps (0 = none); needs an output_dir.
        keep_checkpoints: how many checkpoints to keep.
        eval_seed: masking seed of held-out evaluation (same masks for every model).
        seed: data order, masking, dropout and initialisation.
    """

    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    objective: str = "kd"
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

    def __post_init__(self) -> None:
        from bortkit.pretrain.distill import KD_VARIANTS, OBJECTIVES

        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"PretrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_every", "checkpoint_every", "seed", "eval_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"PretrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"PretrainConfig.keep_checkpoints must be >= 1, got "
                             f"{self.keep_checkpoints}")
        if not self.lr > 0:
            raise ValueError(f"PretrainConfig.lr must be > 0, got {self.lr}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"PretrainConfig.warmup_ratio must be in [0, 1), got "
                             f"{self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ValueError(f"PretrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"PretrainConfig.objective must be one of {OBJECTIVES}, got "
                             f"{self.objective!r}")
        if self.kd_variant not in KD_VARIANTS:
            raise ValueError(f"PretrainConfig.kd_variant must be one of {KD_VARIANTS}, got "
                             f"{self.kd_variant!r}")
        if self.w_mlm < 0 or self.w_kd < 0 or not self.temperature > 0:
            raise ValueError(f"PretrainConfig: need w_mlm >= 0, w_kd >= 0, temperature > 0; got "
                             f"{self.w_mlm}, {self.w_kd}, {self.temperature}")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError(f"PretrainConfig.mlm_probability must be in (0, 1), got "
                             f"{self.mlm_probability}")
        if self.clip_weights is not None and not self.clip_weights > 0:
            raise ValueError(f"PretrainConfig.clip_weights must be > 0 or None, got "
                             f"{self.clip_weights}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        return cls(**data)


@dataclass(frozen=True)
class LearningCurve:
    """The record of a run: training loss per step, held-out metrics per evaluation.

    `series(metric)` gives (steps, values) for "train_loss", "train_mlm", "train_kd",
    "eval_error", "eval_accuracy", "eval_loss" (the protocol `bortkit.plots.training` reads).
    """

    steps: tuple[int, ...] = ()
    train_loss: tuple[float, ...] = ()
    train_mlm: tuple[float, ...] = ()
    train_kd: tuple[float, ...] = ()
    seconds: tuple[float, ...] = ()
    eval_steps: tuple[int, ...] = ()
    eval_error: tuple[float, ...] = ()
    eval_loss: tuple[float, ...] = ()

    def add_step(self, step: int, loss: float, mlm: float, kd: float, seconds: float
                 ) -> LearningCurve:
        return dataclasses.replace(
            self, steps=self.steps + (step,), train_loss=self.train_loss + (loss,),
            train_mlm=self.train_mlm + (mlm,), train_kd=self.train_kd + (kd,),
            seconds=self.seconds + (seconds,))

    def add_eval(self, step: int, ev: MlmEval) -> LearningCurve:
        return dataclasses.replace(
            self, eval_steps=self.eval_steps + (step,), eval_error=self.eval_error + (ev.error,),
            eval_loss=self.eval_loss + (ev.loss,))

    def series(self, metric: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        if metric in ("train_loss", "train_mlm", "train_kd", "seconds"):
            return self.steps, getattr(self, metric)
        if metric in ("eval_error", "eval_loss"):
            return self.eval_steps, getattr(self, metric)
        if metric == "eval_accuracy":
            return self.eval_steps, tuple(1.0 - e for e in self.eval_error)
        raise ValueError(f"unknown metric {metric!r}; use train_loss, train_mlm, train_kd, "
                         "seconds, eval_error, eval_accuracy or eval_loss")

    def to_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearningCurve:
        return cls(**{f.name: tuple(data.get(f.name, ())) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining run returns (and writes as `result.json`)."""

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

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "curve": self.curve.to_dict(),
                "final": self.final.to_dict(), "final_train_loss": self.final_train_loss,
                "steps": self.steps, "seconds": self.seconds, "n_params": self.n_params,
                "resumed_from": self.resumed_from, "model_dir": self.model_dir,
                "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainResult:
        return cls(PretrainConfig.from_dict(data["config"]),
                   LearningCurve.from_dict(data["curve"]), MlmEval.from_dict(data["final"]),
                   float(data["final_train_loss"]), int(data["steps"]), float(data["seconds"]),
                   int(data["n_params"]), int(data.get("resumed_from", 0)),
                   data.get("model_dir"), dict(data.get("extra", {})))


__all__ = ["LearningCurve", "PretrainConfig", "PretrainResult"]
