"""`FptasConfig`: every input of the FPTAS besides Ξ and the evaluator, validated on construction.

One config per stage function (after `transformers.BertConfig` and nanoGPT's `GPTConfig`):
`fptas.search(space, config, evaluator=...)` reads its sizes and project choices from here and
never overrides them; `FptasConfig.smoke()` holds the tiny sizes of tests and smoke runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bortkit.arch import PRESETS
from bortkit.records import (
    Record,
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_positive_int,
    check_probability,
)
from bortkit.search.trim import COSTS, ORDERS, PARAM_COUNTS, REPRESENTATIVES, training_budget
from bortkit.theta import Theta, theta_grid


@dataclass(frozen=True)
class FptasConfig(Record):
    """Inputs of the FPTAS besides Ξ and the evaluator. Validated on construction.

    Args:
        epsilon: ε ∈ (0, 1), the approximation slack (SOURCED input).
        s: the second input parameter of (b); its meaning is UNKNOWN, here it scales the
            budget as s^{-3/2} like the complexity bound (PROJECT CHOICE).
        c: budget constant in N = ceil(c / (ε s^{3/2})) (PROJECT CHOICE).
        min_steps, max_steps: clamp of N (PROJECT CHOICE: a 2-core machine needs a cap).
        steps: an explicit budget N that replaces the formula (e.g. to share one exhaustive
            run across several ε in a benchmark).
        batch_size: |B|, recorded and used in the complexity bound; evaluators take their own.
        theta: Θ, the hyperparameter sets tried per candidate (`bortkit.theta.Theta` records;
            presets "one", "lr2", "lr3" in `bortkit.theta.THETA_PRESETS`).
        maximum_point: ``"grid"`` (p_T, i_T = max over Ξ, per [S15]) or a preset name
            (e.g. ``"bert-base"``), which must dominate every candidate.
        order: trimming order: by (p, i) ``"p"``, by (i, p) ``"i"``, or by p·i ``"pi"``.
        representative: which member of a group is trained: ``"cheapest"`` (first in the
            order) or ``"costliest"``.
        param_count: which `ParamCount` field is p, for the candidates, the maximum point T
            and so W alike: ``"effective"`` (default: no embeddings, the paper's "effective
            size"), ``"total"`` (BertModel with pooler) or ``"mlm_total"``. PROJECT CHOICE,
            measured: embeddings are 78-98% of total p on the CPU space (median 93%), so
            total p mostly counts V·H and W's p factor barely sees depth or I
            (docs/design/search.md).
        seq_len: n for i(ξ) (None: min(128, max positions)); the papers' n is UNKNOWN.
        seed: the seed of every evaluation (common random numbers across candidates).
        audit_fraction: share of the non-representative members trained by the assumption
            audit (`bortkit.search.audit`), in [0, 1]; 0 turns the audit off, 1 trains every
            member. The audit measures whether representatives stand for their groups; it
            never changes the choice (PROJECT CHOICE).
        audit_seed: seed of the audit's sample of members.
        cost: what i(ξ) is: ``"ops"`` (default: the analytic operation count, step 1) or
            ``"latency"`` (the measured median latency in ms, `latency_ms`). PROJECT CHOICE:
            the op count ranks the CPU space's measured latencies with Spearman ρ 0.94-0.97 but
            is not proportional to them (docs/results.md); "latency" ranks by the clock.
        latency_ms: (candidate label, median ms) for every candidate when cost="latency", e.g.
            ``tuple(measure.cost.measure_costs(space, CostConfig(...)).costs().items())``.
    """

    epsilon: float = 0.1
    s: float = 1.0
    c: float = 10.0
    min_steps: int = 1
    max_steps: int = 1000
    steps: int | None = None
    batch_size: int = 8
    theta: tuple[Theta, ...] = field(default_factory=lambda: theta_grid("one"))
    maximum_point: str = "grid"
    order: str = "p"
    representative: str = "cheapest"
    param_count: str = "effective"
    seq_len: int | None = None
    seed: int = 0
    audit_fraction: float = 0.1
    audit_seed: int = 0
    cost: str = "ops"
    latency_ms: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        eps = check_float("FptasConfig.epsilon", self.epsilon, low=0.0, high=1.0,
                          low_open=True, high_open=True)
        object.__setattr__(self, "epsilon", eps)
        object.__setattr__(self, "s", check_positive("FptasConfig.s", self.s))
        object.__setattr__(self, "c", check_positive("FptasConfig.c", self.c))
        for name in ("min_steps", "max_steps", "batch_size"):
            check_positive_int(f"FptasConfig.{name}", getattr(self, name))
        check_int("FptasConfig.seed", self.seed, minimum=0)
        check_int("FptasConfig.audit_seed", self.audit_seed, minimum=0)
        object.__setattr__(self, "audit_fraction",
                           check_probability("FptasConfig.audit_fraction", self.audit_fraction))
        if self.min_steps > self.max_steps:
            raise ValueError(f"FptasConfig.min_steps={self.min_steps} exceeds "
                             f"max_steps={self.max_steps}")
        for name in ("steps", "seq_len"):
            if getattr(self, name) is not None:
                check_positive_int(f"FptasConfig.{name}", getattr(self, name))
        if not isinstance(self.theta, tuple) or not self.theta:
            raise ValueError(f"FptasConfig.theta must be a non-empty tuple of Theta, "
                             f"got {self.theta!r}")
        for t in self.theta:
            if not isinstance(t, Theta):
                raise TypeError(f"FptasConfig.theta must hold bortkit.theta.Theta records, "
                                f"got {t!r}")
        check_choice("FptasConfig.maximum_point", self.maximum_point, ("grid", *PRESETS))
        check_choice("FptasConfig.order", self.order, ORDERS)
        check_choice("FptasConfig.representative", self.representative, REPRESENTATIVES)
        check_choice("FptasConfig.param_count", self.param_count, PARAM_COUNTS)
        check_choice("FptasConfig.cost", self.cost, COSTS)
        latency = tuple((str(label), check_positive(f"FptasConfig.latency_ms[{label!r}]", ms))
                        for label, ms in self.latency_ms)
        object.__setattr__(self, "latency_ms", latency)
        if self.cost == "latency":
            if not latency:
                raise ValueError("FptasConfig.cost='latency' needs latency_ms: the measured "
                                 "median latency of every candidate (bortkit.measure.cost)")
            if self.maximum_point != "grid":
                raise ValueError("FptasConfig.cost='latency' needs maximum_point='grid' (a "
                                 "preset's latency is not measured)")
        elif latency:
            raise ValueError("FptasConfig.latency_ms is given but cost='ops'; set "
                             "cost='latency' to rank by measured latency")

    @classmethod
    def smoke(cls, **changes: Any) -> FptasConfig:
        """The tiny sizes of tests and smoke runs (notebook 02 with ``smoke=True``).

        ε = 0.25 and N = 40 steps: what the smoke notebook has always run (the formula's N at
        ε = 0.25, written out so that smoke runs don't depend on `c`), with Θ = "one".
        """
        return cls(**{"epsilon": 0.25, "steps": 40, **changes})

    @property
    def budget_steps(self) -> int:
        """N, the training steps per (candidate, θ)."""
        if self.steps is not None:
            return self.steps
        return training_budget(
            self.epsilon, self.s, c=self.c, min_steps=self.min_steps, max_steps=self.max_steps
        )


__all__ = ["FptasConfig"]
