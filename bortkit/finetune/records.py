"""The records of fine-tuning: a run's knobs, its learning curve, its result, and predictions.

`FinetuneConfig` holds everything but θ that shapes one `bortkit.finetune.engine.finetune` call
(θ ∈ Θ is the `bortkit.theta.Theta` that varies across a grid); `FinetuneResult` is what a call
returns and writes beside an exported model as ``finetune_result.json``, so a downstream stage
reads it back with ``FinetuneResult.load(model_dir)`` (notebook 05's labeller hand-off).
`EpochPoint` is one validation pass, `Predictions` the output of `finetune.classifier.predict`.

numpy-free and torch-free: records only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from bortkit.finetune.metrics import METRIC_NAMES, Metrics
from bortkit.records import Record, check_choice, check_int, check_positive_int
from bortkit.theta import Theta
from bortkit.utils import DEVICES

POOLINGS = ("first", "mean")  # bortkit.finetune.classifier implements them
SCHEDULES = ("linear", "constant")


@dataclass(frozen=True)
class FinetuneConfig(Record):
    """The knobs of one fine-tuning run other than θ (the same for every θ of a grid).

    Args:
        epochs: maximum number of epochs.
        max_length: truncation length in tokens (ignored when the data is already encoded).
        patience: stop after this many evaluations in a row that are strictly worse than the
            best so far (None: never). A tie is not worse: a small model sitting at the
            majority class for a few epochs keeps training.
        metric: validation metric for best-epoch selection (the LAST epoch with the best value
            is kept: on a tie the later epoch, which has seen more data, wins) and early
            stopping.
        pooling: "mean" (default: measured, see docs/results.md) or "first" (Bort's first-token
            head); `bortkit.finetune.classifier.set_pooling`.
        schedule: the learning rate after the linear warm-up (θ's `warmup_ratio` of all steps):
            "linear" decay to 0 (Bort's) or "constant".
        device: "auto" (CUDA when present), "cpu" or "cuda" (`bortkit.utils.resolve_device`).
        eval_batch_size: batch size for evaluation.
        threads: torch intra-op threads during the run (None: leave as is). On a busy shared
            machine, 1 thread avoids oversubscription that slows small models ~5×.
    """

    epochs: int = 3
    max_length: int = 64
    patience: int | None = 2
    metric: str = "accuracy"
    eval_batch_size: int = 64
    threads: int | None = None
    pooling: str = "mean"
    schedule: str = "linear"
    device: str = "auto"

    def __post_init__(self) -> None:
        check_positive_int("FinetuneConfig.epochs", self.epochs)
        check_int("FinetuneConfig.max_length", self.max_length, minimum=8)
        if self.patience is not None:
            check_positive_int("FinetuneConfig.patience", self.patience)
        check_choice("FinetuneConfig.metric", self.metric, METRIC_NAMES)
        check_positive_int("FinetuneConfig.eval_batch_size", self.eval_batch_size)
        check_choice("FinetuneConfig.pooling", self.pooling, POOLINGS)
        check_choice("FinetuneConfig.schedule", self.schedule, SCHEDULES)
        if not (isinstance(self.device, str)
                and (self.device in DEVICES or self.device.startswith("cuda:"))):
            raise ValueError(f"FinetuneConfig.device must be one of {', '.join(DEVICES)} (or "
                             f"cuda:N), got {self.device!r}")
        if self.threads is not None:
            check_positive_int("FinetuneConfig.threads", self.threads)

    @classmethod
    def smoke(cls, **changes: Any) -> FinetuneConfig:
        """The tiny run of tests and notebook smoke runs: 2 epochs of 24-token inputs, 1 thread."""
        return cls(**{"epochs": 2, "max_length": 24, "threads": 1, **changes})


@dataclass(frozen=True)
class EpochPoint(Record):
    """One evaluation on validation: after `epoch` epochs (`step` optimiser steps)."""

    epoch: int
    step: int
    train_loss: float
    val: Metrics

    def __post_init__(self) -> None:
        # JSON has no NaN: an unknown loss is saved as null and read back as NaN.
        if self.train_loss is None:
            object.__setattr__(self, "train_loss", math.nan)


@dataclass(frozen=True)
class FinetuneResult(Record):
    """The outcome of fine-tuning one model with one θ (saved as ``finetune_result.json``).

    Args:
        source: what was fine-tuned (checkpoint path, or ``"random:<spec label>"``), or a name.
        theta: the hyperparameter set.
        best_epoch: epoch whose weights were kept (validation `metric` best).
        metric: the validation metric used for selection.
        val: validation scores of the kept weights.
        test: test scores of the kept weights (None when the data has no test split).
        curve: one point per evaluation, in order.
        seconds: wall time of training and evaluation.
        train_size: number of training examples.
        epochs: epochs asked for.
        epochs_run: epochs actually trained (fewer than `epochs` after early stopping).
        label_names: class names, index = class id.
        val_predictions: predicted class per validation example, of the kept weights.
        model_dir: where the kept model was exported, or None.
    """

    file_name: ClassVar[str] = "finetune_result.json"

    source: str
    theta: Theta
    best_epoch: int
    metric: str
    val: Metrics
    test: Metrics | None
    curve: tuple[EpochPoint, ...]
    seconds: float
    train_size: int
    epochs: int
    epochs_run: int
    label_names: tuple[str, ...]
    val_predictions: tuple[int, ...]
    model_dir: str | None = None

    @property
    def stopped_early(self) -> bool:
        return self.epochs_run < self.epochs

    def series(self, metric: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(steps, values) of a curve metric: "train_loss", or "val_" + accuracy / macro_f1 /
        mcc / loss (the interface of `bortkit.plots.training.training_figure`)."""
        if metric == "train_loss":
            values = tuple(p.train_loss for p in self.curve)
        elif metric.startswith("val_") and metric[4:] in (*METRIC_NAMES, "loss"):
            values = tuple(p.val.get(metric[4:]) for p in self.curve)
        else:
            raise ValueError(f"unknown curve metric {metric!r}; valid: train_loss, "
                             f"{', '.join('val_' + m for m in (*METRIC_NAMES, 'loss'))}")
        return tuple(p.step for p in self.curve), values

    def to_row(self) -> dict[str, Any]:
        """A flat row for tables: source, θ fields, selection, val/test scores, time."""
        row: dict[str, Any] = {"source": self.source, "theta": self.theta.label,
                               **self.theta.to_dict(), "best_epoch": self.best_epoch,
                               "epochs_run": self.epochs_run, "train_size": self.train_size}
        for split, m in (("val", self.val), ("test", self.test)):
            for name in METRIC_NAMES:
                row[f"{split}_{name}"] = None if m is None else m.get(name)
        row["seconds"] = self.seconds
        return row


@dataclass(frozen=True)
class Predictions(Record):
    """Class predictions for a list of texts: `labels[i]` = argmax of `probs[i]`."""

    labels: tuple[int, ...]
    probs: tuple[tuple[float, ...], ...]


__all__ = [
    "POOLINGS",
    "SCHEDULES",
    "EpochPoint",
    "FinetuneConfig",
    "FinetuneResult",
    "Predictions",
]
