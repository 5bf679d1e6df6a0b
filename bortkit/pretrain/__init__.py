"""Stage 2, pretraining: the MLM teacher (built once, cached), distillation objectives, the
pretraining engine, and the surrogate error (`SurrogateEvaluator`) the FPTAS ranks candidates by.
"""

from __future__ import annotations

from bortkit.pretrain.distill import build_student
from bortkit.pretrain.engine import latest_checkpoint, pretrain, resolve_arch
from bortkit.pretrain.export import export
from bortkit.pretrain.mlm import Blocks, MlmEval, corpus_blocks, evaluate_mlm
from bortkit.pretrain.records import LearningCurve, PretrainConfig, PretrainResult
from bortkit.pretrain.surrogate import (
    SurrogateConfig,
    SurrogateEvaluator,
    SurrogateResult,
    surrogate_error,
)
from bortkit.pretrain.teacher import TeacherConfig, TeacherResult, load_teacher

__all__ = [
    "Blocks",
    "LearningCurve",
    "MlmEval",
    "PretrainConfig",
    "PretrainResult",
    "SurrogateConfig",
    "SurrogateEvaluator",
    "SurrogateResult",
    "TeacherConfig",
    "TeacherResult",
    "build_student",
    "corpus_blocks",
    "evaluate_mlm",
    "export",
    "latest_checkpoint",
    "load_teacher",
    "pretrain",
    "resolve_arch",
    "surrogate_error",
]
