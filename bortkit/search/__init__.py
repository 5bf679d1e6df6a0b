"""Stage 1, optimal subarchitecture extraction: the FPTAS over a space Ξ of BERT shapes, its
Pareto front, the evaluator protocol, the SQLite store, executors, baselines. Never imports torch.

Public names: `search` (the FPTAS), `SearchSpace`, `FptasConfig`, `FptasResult` (with
`Candidate`, `Trial`), `save_result`, `load_result` (the stage's hand-off:
``load_result(run_dir).chosen.spec``), `front`/`Front`, `Evaluator`, `EvalResult`,
`SyntheticEvaluator`, `open_store`, `make_executor`, `exhaustive`, `nsga2`.
"""

from __future__ import annotations

from bortkit.search.baselines import exhaustive, nsga2
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import EvalResult, Evaluator, SyntheticEvaluator
from bortkit.search.executors import make_executor
from bortkit.search.fptas import load_result, save_result, search
from bortkit.search.pareto import Front, front
from bortkit.search.result import Candidate, FptasResult, Trial
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store, open_store

__all__ = [
    "Candidate",
    "EvalResult",
    "Evaluator",
    "FptasConfig",
    "FptasResult",
    "Front",
    "SearchSpace",
    "Store",
    "SyntheticEvaluator",
    "Trial",
    "exhaustive",
    "front",
    "load_result",
    "make_executor",
    "nsga2",
    "open_store",
    "save_result",
    "search",
]
