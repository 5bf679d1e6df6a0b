"""Stage 1, optimal subarchitecture extraction: the FPTAS over BERT shapes, its Pareto front,
the evaluator protocol, the SQLite store, executors and baselines. Never imports torch.

Public names: `search` (the FPTAS), `FptasConfig`, `FptasResult`, `load_result`, `front`,
`Evaluator`, `EvalResult`, `SyntheticEvaluator`, `open_store`, `make_executor`, `exhaustive`, `nsga2`.
"""

from __future__ import annotations

from bortkit.search.baselines import exhaustive, nsga2
from bortkit.search.evaluation import EvalResult, Evaluator, SyntheticEvaluator
from bortkit.search.executors import make_executor
from bortkit.search.fptas import Candidate, FptasConfig, FptasResult, load_result, search
from bortkit.search.pareto import Front, front
from bortkit.search.store import Store, open_store

__all__ = [
    "Candidate",
    "EvalResult",
    "Evaluator",
    "Front",
    "FptasConfig",
    "FptasResult",
    "Store",
    "SyntheticEvaluator",
    "exhaustive",
    "front",
    "load_result",
    "make_executor",
    "nsga2",
    "open_store",
    "search",
]
