"""Stage 2, pretraining: the MLM teacher (built once, cached), distillation objectives, the
pretraining engine, and the surrogate error the FPTAS ranks candidates by.
"""

from __future__ import annotations

from bortkit.pretrain.engine import pretrain, resolve_arch
from bortkit.pretrain.records import LearningCurve, PretrainConfig, PretrainResult
from bortkit.pretrain.surrogate import SurrogateResult, surrogate_error

__all__ = [
    "LearningCurve",
    "PretrainConfig",
    "PretrainResult",
    "SurrogateResult",
    "pretrain",
    "resolve_arch",
    "surrogate_error",
]
