"""What an FPTAS run returns: a `Trial` per (ξ, θ), a `Candidate` per ξ ∈ Ξ, the `FptasResult`.

A candidate is trained (a representative, or a member trained by the assumption audit), or
inherited: not trained, it carries its group representative's trials re-scored with its own
p and i (W), marked ``inherited=True`` and costing nothing, so the front covers Ξ while saying
which points are measured.

Records that hold records (a `Candidate` holds an `ArchSpec` and its `Trial`s, a `Trial` its
`Theta`), so `FptasResult.load(run_dir)` gives back exactly what `search` returned. The result
is the search stage's hand-off: downstream stages read
`bortkit.search.load_result(run_dir).chosen.spec`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bortkit.arch import ArchSpec
from bortkit.records import Record
from bortkit.search.audit import Audit
from bortkit.search.config import FptasConfig
from bortkit.search.pareto import Front
from bortkit.search.space import SearchSpace
from bortkit.theta import Theta


@dataclass(frozen=True)
class Trial(Record):
    """One (candidate, θ) evaluation: the evaluator's error, loss and seconds, and its W.

    `checkpoint` is the folder the evaluator kept the trained model in ("" when none; an
    inherited candidate's trials never carry their representative's).
    """

    theta: Theta
    error: float
    loss: float
    seconds: float
    w: float
    cached: bool
    checkpoint: str = ""


@dataclass(frozen=True)
class Candidate(Record):
    """A member of Ξ: its objectives, its group, and (if trained or inherited) its best-θ result.

    Args:
        index: position in `SearchSpace.specs()`.
        spec: the architecture ξ.
        params, ops: p(ξ) and i(ξ).
        group: the index of its ε-trimming group; representative: that group's trained member.
        trials: one per θ ∈ Θ when trained or inherited, else empty.
        steps: the training budget of its trials (None when not trained).
        audited: trained by the assumption audit, not as a representative.
        inherited: not trained; `trials` are the representative's (errors, losses, θ) with
            this candidate's own W and zero seconds. Plots draw these points hollow.
    """

    index: int
    spec: ArchSpec
    params: int
    ops: int
    group: int
    representative: int
    trials: tuple[Trial, ...] = ()
    steps: int | None = None
    audited: bool = False
    inherited: bool = False

    @property
    def trained(self) -> bool:
        """Measured: trained as a representative or by the audit (not inherited)."""
        return bool(self.trials) and not self.inherited

    @property
    def best(self) -> Trial | None:
        """The trial with the largest W (ties: first θ)."""
        return max(self.trials, key=lambda t: t.w) if self.trials else None

    @property
    def error(self) -> float | None:
        return self.best.error if self.trials else None

    @property
    def w(self) -> float | None:
        return self.best.w if self.trials else None

    @property
    def theta(self) -> Theta | None:
        return self.best.theta if self.trials else None

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.trials)

    @property
    def checkpoint(self) -> str:
        """The kept weights of the best θ's trial ("" when none were kept)."""
        return self.best.checkpoint if self.trials else ""


@dataclass(frozen=True)
class ErrorSpread(Record):
    """How far the surrogate error e spreads over the trained candidates (best θ each).

    A narrow spread means e barely separates the candidates and W is decided by cost alone.
    """

    n: int
    min: float
    median: float
    max: float


@dataclass(frozen=True)
class FptasResult(Record):
    """Everything a sweep produced: the choice, every candidate, the front, and its guarantee.

    `bound` is the SOURCED approximation ratio 1 − ε (holds under AB^nC's error
    correspondence); `audit` measures that assumption on this run's evaluator
    (`bortkit.search.audit`; None only in results saved before the audit existed).
    `complexity` is (b)'s step count |Ξ| + |W*_T|(1 + |Θ||B||Ξ| / (ε s^{3/2})) for this run.
    `front` is the (p, i, e) front over every candidate with an e, trained or inherited.
    `save(run_dir)` / `FptasResult.load(run_dir)` use ``run_dir/fptas_result.json``.
    """

    file_name = "fptas_result.json"

    method: str
    space: SearchSpace
    config: FptasConfig
    evaluator: str
    chosen: Candidate
    candidates: tuple[Candidate, ...]
    groups: tuple[tuple[int, ...], ...]
    p_t: int
    i_t: int
    budget_steps: int
    bound: float
    complexity: float
    front: Front
    n_cached: int
    wall_seconds: float
    audit: Audit | None = None

    @property
    def n_space(self) -> int:
        return len(self.candidates)

    @property
    def trained(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.trained)

    @property
    def n_trained(self) -> int:
        return len(self.trained)

    @property
    def n_audited(self) -> int:
        """Candidates trained by the assumption audit (included in `n_trained`)."""
        return sum(c.audited for c in self.candidates)

    @property
    def n_inherited(self) -> int:
        return sum(c.inherited for c in self.candidates)

    @property
    def n_evaluations(self) -> int:
        return sum(len(c.trials) for c in self.trained)

    def error_spread(self) -> ErrorSpread:
        """min / median / max of e over the trained candidates (inherited ones excluded)."""
        errors = [c.error for c in self.trained]
        return ErrorSpread(n=len(errors), min=min(errors), median=statistics.median(errors),
                           max=max(errors))

    @property
    def train_seconds(self) -> float:
        """Evaluator-reported seconds of every trial used (cached ones included)."""
        return sum(c.seconds for c in self.candidates)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per candidate: shape, objectives, group, best trial, audited, inherited."""
        return [
            {"index": c.index, "label": c.spec.label, "D": c.spec.D, "A": c.spec.A,
             "H": c.spec.H, "I": c.spec.I, "params": c.params, "ops": c.ops, "group": c.group,
             "representative": c.representative, "steps": c.steps, "trained": c.trained,
             "error": c.error, "w": c.w, "theta": None if c.theta is None else c.theta.label,
             "audited": c.audited, "inherited": c.inherited}
            for c in self.candidates
        ]

    def to_frame(self) -> Any:
        """`rows()` as a pandas DataFrame (pandas imported here only: the search stays light)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


__all__ = ["Candidate", "ErrorSpread", "FptasResult", "Trial"]
