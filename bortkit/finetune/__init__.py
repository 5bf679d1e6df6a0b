"""Stage 3, fine-tuning: classifiers with Bort's head on real NLU tasks, one run per
hyperparameter set θ (`bortkit.theta`), metrics, and models compared over the same Θ.
"""

from __future__ import annotations

from bortkit.finetune.classifier import (
    arch_of,
    load_classifier,
    predict,
    quiet_progress,
    resolve_checkpoint,
)
from bortkit.finetune.compare import (
    best_result,
    compare,
    comparison_sources,
    results_frame,
    run_grid,
)
from bortkit.finetune.engine import encode, finetune, task_labels
from bortkit.finetune.metrics import METRIC_NAMES, Metrics, classification_metrics
from bortkit.finetune.records import EpochPoint, FinetuneConfig, FinetuneResult, Predictions

__all__ = [
    "METRIC_NAMES",
    "EpochPoint",
    "FinetuneConfig",
    "FinetuneResult",
    "Metrics",
    "Predictions",
    "arch_of",
    "best_result",
    "classification_metrics",
    "compare",
    "comparison_sources",
    "encode",
    "finetune",
    "load_classifier",
    "predict",
    "quiet_progress",
    "resolve_checkpoint",
    "results_frame",
    "run_grid",
    "task_labels",
]
