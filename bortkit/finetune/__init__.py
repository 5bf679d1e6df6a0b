"""Stage 3, fine-tuning: classifiers on real NLU tasks (Bort's first-token head), one run per
hyperparameter set θ, metrics and model comparison.
"""

from __future__ import annotations

from bortkit.finetune.engine import (
    RESULT_NAME,
    FinetuneResult,
    best_result,
    compare,
    comparison_sources,
    finetune,
    predict,
    results_frame,
    run_grid,
    task_labels,
)

__all__ = [
    "FinetuneResult",
    "RESULT_NAME",
    "best_result",
    "compare",
    "comparison_sources",
    "finetune",
    "predict",
    "results_frame",
    "run_grid",
    "task_labels",
]
