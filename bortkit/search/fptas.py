"""Optimal subarchitecture extraction (OSE) by the FPTAS of de Wynter (arXiv 2010.08512).

The papers' algorithm listing is not available (see reference/bort-papers.md §2); this module is
the project's reconstruction. Every step below is tagged SOURCED (stated by a source, with the
reference of bort-papers.md) or PROJECT CHOICE (ours, exposed as a field of `FptasConfig`):

1. p(ξ), i(ξ) exactly for all of Ξ (analytic polynomials; O(|Ξ|)).      SOURCED [S6]
2. T = the maximum point; p_T, i_T = max p, max i over Ξ (or a preset).   SOURCED [S2, S15]
3. ε-trimming: order Ξ by cost, group consecutive candidates whose p and
   i lie within a (1+ε) factor of the group's first; train one
   representative per group.                          SOURCED in spirit [S6]; rule = CHOICE
4. Budget N = ceil(c / (ε · s^{3/2})) steps per (ξ, θ), clamped to
   [min_steps, max_steps], or an explicit `steps`.   complexity SOURCED [S2]; N = CHOICE
5. W(ξ, θ) = ((p_T − p)/p_T)·((i_T − i)/i_T) / max(e, 1e-7); best θ.       [S15], UNVERIFIED
6. Return argmax_ξ W — and the (p, i, e) Pareto front of all trained.  INFERRED / CHOICE

This module imports neither torch nor plotly; the evaluator does the training.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from bortkit import records
from bortkit.arch import PRESETS, ArchSpec, SearchSpace, count_ops, count_params
from bortkit.run import artifacts
from bortkit.search import pareto, sweep
from bortkit.search.evaluation import EvalResult, Evaluator
from bortkit.search.executors import Executor
from bortkit.search.store import Store

logger = logging.getLogger(__name__)

E_FLOOR = 1e-7  # [S15] adds 1e-7 to e to avoid dividing by zero; we take max(e, 1e-7).
ORDERS = ("p", "i", "pi")
REPRESENTATIVES = ("cheapest", "costliest")
PARAM_COUNTS = ("total", "effective", "mlm_total")
OBJECTIVES = ("params", "ops", "error")

# Θ presets. Keys follow the evaluators' θ vocabulary (``lr`` = peak learning rate).
THETA_PRESETS: dict[str, tuple[dict[str, Any], ...]] = {
    "one": ({"lr": 1e-3},),
    "lr2": ({"lr": 5e-4}, {"lr": 2e-3}),
    "lr3": ({"lr": 3e-4}, {"lr": 1e-3}, {"lr": 3e-3}),
}


def theta_preset(name: str) -> tuple[dict[str, Any], ...]:
    """A Θ preset by name (see `THETA_PRESETS`)."""
    if name not in THETA_PRESETS:
        raise ValueError(f"unknown theta preset {name!r}; valid: {', '.join(THETA_PRESETS)}")
    return THETA_PRESETS[name]


@dataclass(frozen=True)
class FptasConfig:
    """Inputs of the FPTAS besides Ξ and the evaluator. Validated on construction.

    Args:
        epsilon: ε ∈ (0, 1), the approximation slack (SOURCED input).
        s: the second input parameter of (b); its meaning is UNKNOWN, here it scales the
            budget as s^{-3/2} like the complexity bound (PROJECT CHOICE).
        c: budget constant in N = ceil(c / (ε s^{3/2})) (PROJECT CHOICE).
        min_steps, max_steps: clamp of N (PROJECT CHOICE: a 2-core machine needs a cap).
        steps: an explicit budget N that overrides the formula (e.g. to share one exhaustive
            run across several ε in a benchmark).
        batch_size: |B|, recorded and used in the complexity bound; evaluators take their own.
        theta: Θ, the hyperparameter sets tried per candidate.
        maximum_point: ``"grid"`` (p_T, i_T = max over Ξ, per [S15]) or a preset name
            (e.g. ``"bert-base"``), which must dominate every candidate.
        order: trimming order: by (p, i) ``"p"``, by (i, p) ``"i"``, or by p·i ``"pi"``.
        representative: which member of a group is trained: ``"cheapest"`` (first in the
            order) or ``"costliest"``.
        param_count: which `ParamCount` field is p: ``"total"`` (BertModel with pooler),
            ``"effective"`` (no embeddings) or ``"mlm_total"``.
        seq_len: n for i(ξ) (None: min(128, max positions)); the papers' n is UNKNOWN.
        seed: the seed of every evaluation (common random numbers across candidates).
    """

    epsilon: float = 0.1
    s: float = 1.0
    c: float = 10.0
    min_steps: int = 1
    max_steps: int = 1000
    steps: int | None = None
    batch_size: int = 8
    theta: tuple[dict[str, Any], ...] = field(default_factory=lambda: THETA_PRESETS["one"])
    maximum_point: str = "grid"
    order: str = "p"
    representative: str = "cheapest"
    param_count: str = "total"
    seq_len: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
            raise ValueError(f"epsilon must be a number in (0, 1), got {eps!r}")
        for name in ("s", "c"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        for name in ("min_steps", "max_steps", "batch_size", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "seed" else 1):
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps={self.min_steps} exceeds max_steps={self.max_steps}")
        if self.steps is not None and (
            isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1
        ):
            raise ValueError(f"steps must be None or a positive int, got {self.steps!r}")
        if not isinstance(self.theta, tuple) or not self.theta:
            raise ValueError(f"theta must be a non-empty tuple of dicts, got {self.theta!r}")
        if not all(isinstance(t, Mapping) for t in self.theta):
            raise ValueError(f"theta must hold dicts, got {self.theta!r}")
        if self.maximum_point != "grid" and self.maximum_point not in PRESETS:
            raise ValueError(
                f"maximum_point must be 'grid' or a preset ({', '.join(PRESETS)}), "
                f"got {self.maximum_point!r}"
            )
        for name, valid in (
            ("order", ORDERS),
            ("representative", REPRESENTATIVES),
            ("param_count", PARAM_COUNTS),
        ):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {getattr(self, name)!r}")

    @property
    def budget_steps(self) -> int:
        """N, the training steps per (candidate, θ)."""
        if self.steps is not None:
            return self.steps
        return training_budget(
            self.epsilon, self.s, c=self.c, min_steps=self.min_steps, max_steps=self.max_steps
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["theta"] = [dict(t) for t in self.theta]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FptasConfig:
        d = dict(data)
        d["theta"] = tuple(dict(t) for t in d.get("theta", THETA_PRESETS["one"]))
        return cls(**d)


def training_budget(
    epsilon: float, s: float, *, c: float = 10.0, min_steps: int = 1, max_steps: int = 1000
) -> int:
    """N = ceil(c / (ε · s^{3/2})) clamped to [min_steps, max_steps].

    SOURCED shape: (b)'s running time has a |Θ||B||Ξ| / (ε s^{3/2}) term [S2], i.e. about
    1/(ε s^{3/2}) SGD steps per candidate and θ. PROJECT CHOICE: the constant c and the clamp.
    """
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon!r}")
    if not s > 0:
        raise ValueError(f"s must be positive, got {s!r}")
    n = math.ceil(c / (epsilon * s**1.5))
    return int(min(max(n, min_steps), max_steps))


def seq_len_for(space: SearchSpace, config: FptasConfig) -> int:
    """The n at which i(ξ) is counted: `config.seq_len` or min(128, max positions)."""
    return config.seq_len or min(128, space.max_position_embeddings)


def objectives(
    spec: ArchSpec, *, param_count: str = "total", seq_len: int = 128
) -> tuple[int, int]:
    """(p(ξ), i(ξ)): exact parameter count and analytic operation count."""
    return getattr(count_params(spec), param_count), count_ops(spec, seq_len=seq_len).total


def maximum_point(
    params: Sequence[int], ops: Sequence[int], *, name: str = "grid", param_count: str = "total",
    seq_len: int = 128,
) -> tuple[int, int]:
    """(p_T, i_T) of the maximum point, checked to dominate every candidate.

    SOURCED [S2, S15]: T is the maximum point; the QHACK reading of Definition 8 takes the
    maximum p and maximum i over the candidates ("grid"). PROJECT CHOICE: a named preset may
    be used instead (the paper's T is UNKNOWN), if it dominates every candidate.
    """
    if name == "grid":
        return max(params), max(ops)
    p_t, i_t = objectives(PRESETS[name], param_count=param_count, seq_len=seq_len)
    worst = max(range(len(params)), key=lambda k: max(params[k] / p_t, ops[k] / i_t))
    if params[worst] > p_t or ops[worst] > i_t:
        raise ValueError(
            f"maximum_point {name!r} (p_T={p_t}, i_T={i_t}) is not in range: candidate "
            f"#{worst} has p={params[worst]}, i={ops[worst]}; T must dominate every candidate"
        )
    return p_t, i_t


def trim(
    params: Sequence[int],
    ops: Sequence[int],
    *,
    epsilon: float,
    order: str = "p",
    representative: str = "cheapest",
) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """ε-trimming: groups of near-equal cost and one representative per group.

    SOURCED in spirit [S6]: the AB^nC ordering lets one "partition the space every ε" and keep
    a representative. PROJECT CHOICE (the rule): sort by `order`; walk the sorted list and open
    a new group whenever a candidate's p or i leaves [1/(1+ε), 1+ε] × the group's first
    member's. The representative is the group's first ("cheapest") or last member.

    Returns:
        (groups, representatives): groups as tuples of candidate indices in sorted order, and
        the representative index of each group.
    """
    n = len(params)
    if order == "p":
        key = lambda k: (params[k], ops[k], k)  # noqa: E731
    elif order == "i":
        key = lambda k: (ops[k], params[k], k)  # noqa: E731
    else:
        key = lambda k: (params[k] * ops[k], k)  # noqa: E731
    hi = 1.0 + epsilon
    groups: list[list[int]] = []
    for k in sorted(range(n), key=key):
        if groups:
            first = groups[-1][0]
            rp, ri = params[k] / params[first], ops[k] / ops[first]
            if 1 / hi <= rp <= hi and 1 / hi <= ri <= hi:
                groups[-1].append(k)
                continue
        groups.append([k])
    pick = 0 if representative == "cheapest" else -1
    return tuple(tuple(g) for g in groups), tuple(g[pick] for g in groups)


def w_coefficient(p: float, i: float, error: float, *, p_t: float, i_t: float) -> float:
    """W = ((p_T − p)/p_T) · ((i_T − i)/i_T) / max(e, 1e-7)  ([S15], third-party, UNVERIFIED)."""
    return ((p_t - p) / p_t) * ((i_t - i) / i_t) / max(error, E_FLOOR)


@dataclass(frozen=True)
class Trial:
    """One (candidate, θ) evaluation."""

    theta: dict[str, Any]
    error: float
    loss: float
    seconds: float
    w: float
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Trial:
        return cls(**d)


@dataclass(frozen=True)
class Candidate:
    """A member of Ξ: its objectives, its group, and (if trained) its best-θ result."""

    index: int
    spec: ArchSpec
    params: int
    ops: int
    group: int
    representative: int
    trials: tuple[Trial, ...] = ()
    steps: int | None = None

    @property
    def trained(self) -> bool:
        return bool(self.trials)

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
    def theta(self) -> dict[str, Any] | None:
        return self.best.theta if self.trials else None

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.trials)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "spec": self.spec.to_dict(), "label": self.spec.label,
            "params": self.params, "ops": self.ops, "group": self.group,
            "representative": self.representative, "steps": self.steps,
            "trained": self.trained, "error": self.error, "w": self.w, "theta": self.theta,
            "trials": [t.to_dict() for t in self.trials],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candidate:
        return cls(
            index=d["index"], spec=ArchSpec.from_dict(d["spec"]), params=d["params"],
            ops=d["ops"], group=d["group"], representative=d["representative"],
            trials=tuple(Trial.from_dict(t) for t in d["trials"]), steps=d["steps"],
        )


@dataclass(frozen=True)
class FptasResult:
    """Everything a sweep produced: the choice, every candidate, the front, and its guarantee.

    `bound` is the SOURCED approximation ratio 1 − ε (holds under AB^nC); `complexity` is
    (b)'s step count |Ξ| + |W*_T|(1 + |Θ||B||Ξ| / (ε s^{3/2})) evaluated for this run.
    """

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
    front: pareto.Front
    n_cached: int
    wall_seconds: float

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
    def n_evaluations(self) -> int:
        return sum(len(c.trials) for c in self.candidates)

    @property
    def train_seconds(self) -> float:
        """Evaluator-reported seconds of every trial used (cached ones included)."""
        return sum(c.seconds for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "space": self.space.to_dict(), "config": self.config.to_dict(),
            "evaluator": self.evaluator, "chosen": self.chosen.index,
            "chosen_spec": self.chosen.spec.to_dict(), "chosen_label": self.chosen.spec.label,
            "candidates": [c.to_dict() for c in self.candidates],
            "groups": [list(g) for g in self.groups], "p_t": self.p_t, "i_t": self.i_t,
            "budget_steps": self.budget_steps, "bound": self.bound,
            "complexity": self.complexity, "front": self.front.to_dict(),
            "n_space": self.n_space, "n_trained": self.n_trained,
            "n_evaluations": self.n_evaluations, "n_cached": self.n_cached,
            "wall_seconds": self.wall_seconds, "train_seconds": self.train_seconds,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FptasResult:
        cands = tuple(Candidate.from_dict(c) for c in d["candidates"])
        return cls(
            method=d["method"], space=SearchSpace.from_dict(d["space"]),
            config=FptasConfig.from_dict(d["config"]), evaluator=d["evaluator"],
            chosen=cands[d["chosen"]], candidates=cands,
            groups=tuple(tuple(g) for g in d["groups"]), p_t=d["p_t"], i_t=d["i_t"],
            budget_steps=d["budget_steps"], bound=d["bound"], complexity=d["complexity"],
            front=pareto.Front.from_dict(d["front"]), n_cached=d["n_cached"],
            wall_seconds=d["wall_seconds"],
        )

    def to_frame(self) -> Any:
        """One row per candidate (pandas, imported lazily)."""
        import pandas as pd

        rows = []
        for c in self.candidates:
            row = {k: v for k, v in c.to_dict().items() if k not in ("spec", "trials")}
            row.update(D=c.spec.D, A=c.spec.A, H=c.spec.H, I=c.spec.I)
            rows.append(row)
        return pd.DataFrame(rows)


def assemble(
    method: str,
    space: SearchSpace,
    config: FptasConfig,
    evaluator: Evaluator,
    *,
    groups: tuple[tuple[int, ...], ...],
    reps: Sequence[int],
    trained: Mapping[int, list[tuple[EvalResult, bool]]],
    n_cached: int,
    started: float,
) -> FptasResult:
    """Build the `FptasResult`: W per trial, best θ, argmax W, and the Pareto front."""
    specs = space.specs()
    n = seq_len_for(space, config)
    pi = [objectives(s, param_count=config.param_count, seq_len=n) for s in specs]
    p_t, i_t = maximum_point([p for p, _ in pi], [i for _, i in pi], name=config.maximum_point,
                             param_count=config.param_count, seq_len=n)
    group_of = {k: g for g, members in enumerate(groups) for k in members}
    cands = []
    for k, spec in enumerate(specs):
        p, i = pi[k]
        trials = tuple(
            Trial(theta=dict(theta), error=r.error, loss=r.loss, seconds=r.seconds,
                  w=w_coefficient(p, i, r.error, p_t=p_t, i_t=i_t), cached=hit)
            for theta, (r, hit) in zip(config.theta, trained.get(k, []))
        )  # SOURCED [S15]: W per θ; the candidate keeps the best over Θ (Candidate.best)
        g = group_of[k]
        cands.append(Candidate(k, spec, p, i, g, reps[g], trials,
                               config.budget_steps if trials else None))
    done = [c for c in cands if c.trained]
    if not done:
        raise ValueError("no candidate was trained; nothing to choose from")
    # INFERRED (Alg. 1, last line): return argmax_ξ W*(ξ); ties go to the cheapest index order.
    chosen = max(done, key=lambda c: (c.w, -c.index))
    # PROJECT CHOICE 4: the 3-objective front of everything trained, normalised hypervolume.
    pts = [(c.params, c.ops, c.error) for c in done]
    fr = pareto.front(pts, names=OBJECTIVES)
    fr = dataclasses.replace(fr, indices=tuple(done[j].index for j in fr.indices))
    n_weights = count_params(PRESETS[config.maximum_point]).total if config.maximum_point != \
        "grid" else max(p for p, _ in pi)
    complexity = len(specs) + n_weights * (
        1 + len(config.theta) * config.batch_size * len(specs) / (config.epsilon * config.s**1.5)
    )  # SOURCED [S2]: O(|Ξ| + |W*_T| (1 + |Θ||B||Ξ| / (ε s^{3/2})))
    return FptasResult(
        method=method, space=space, config=config, evaluator=evaluator.version, chosen=chosen,
        candidates=tuple(cands), groups=groups, p_t=p_t, i_t=i_t,
        budget_steps=config.budget_steps, bound=1.0 - config.epsilon, complexity=complexity,
        front=fr, n_cached=n_cached, wall_seconds=time.perf_counter() - started,
    )


def search(
    space: SearchSpace,
    *,
    evaluator: Evaluator,
    config: FptasConfig | None = None,
    store: Store | None = None,
    executor: Executor | None = None,
    trim_space: bool = True,
    progress: bool = True,
) -> FptasResult:
    """Run the FPTAS on Ξ = `space` and return the argmax-W architecture and the front.

    Args:
        space: Ξ.
        evaluator: gives the surrogate error after the bounded training (`bortkit.search.evaluation`).
        config: ε, s, Θ, budget and the project choices (`FptasConfig`).
        store: results store; evaluations already stored are reused, new ones committed.
        executor: where evaluations run (`bortkit.search.executors`); default in this process.
        trim_space: False trains every candidate (the exhaustive baseline, same budget).
        progress: show a tqdm bar while training.
    """
    if not isinstance(space, SearchSpace):
        raise TypeError(f"space must be an arch.SearchSpace, got {type(space).__name__}")
    if not (hasattr(evaluator, "evaluate") and hasattr(evaluator, "version")):
        raise TypeError(f"evaluator must have .evaluate() and .version, got {evaluator!r}")
    config = config or FptasConfig()
    started = time.perf_counter()
    specs = space.specs()
    if not specs:
        raise ValueError(f"search space {space.name!r} is empty")
    n = seq_len_for(space, config)
    # Step 1, SOURCED [S6]: p and i are closed-form polynomials, computed for all Ξ in O(|Ξ|).
    pi = [objectives(s, param_count=config.param_count, seq_len=n) for s in specs]
    params, ops = [p for p, _ in pi], [i for _, i in pi]
    # Step 2, SOURCED [S2, S15]: the maximum point T (validated: it dominates every candidate).
    maximum_point(params, ops, name=config.maximum_point, param_count=config.param_count,
                  seq_len=n)
    # Step 3, SOURCED in spirit [S6], rule = PROJECT CHOICE: ε-trimming; train representatives.
    if trim_space:
        groups, reps = trim(params, ops, epsilon=config.epsilon, order=config.order,
                            representative=config.representative)
    else:
        groups, reps = tuple((k,) for k in range(len(specs))), tuple(range(len(specs)))
    logger.info("%s: %d candidates, %d trained, budget %d steps", space.name, len(specs),
                len(reps), config.budget_steps)
    # Steps 4-5, SOURCED loop over Θ [S15] with the bounded budget N(ε, s) (PROJECT CHOICE).
    results, n_cached = sweep.evaluate_candidates(
        [specs[k] for k in reps], thetas=config.theta, steps=config.budget_steps,
        seed=config.seed, space_name=space.name, evaluator=evaluator, store=store,
        executor=executor, progress=progress)
    trained = {k: results[j] for j, k in enumerate(reps)}
    # Steps 6-7: W, best θ, argmax, front.
    return assemble("fptas" if trim_space else "exhaustive", space, config, evaluator,
                    groups=groups, reps=reps, trained=trained, n_cached=n_cached,
                    started=started)


def save_result(result: FptasResult, out: str | os.PathLike[str]) -> Path:
    """Write ``fptas_result.json``, ``chosen_arch.json`` (`ArchSpec.to_dict()`, what notebook
    03 reads) and ``candidates.csv`` into `out`; returns the folder."""
    out = artifacts.run_dir(out)
    records.save_json(out / "fptas_result.json", result)
    records.save_json(out / "chosen_arch.json", result.chosen.spec.to_dict())
    rows = ["index,label,D,A,H,I,params,ops,group,trained,error,w,theta"]
    for c in result.candidates:
        s = c.spec
        theta = "" if c.theta is None else ";".join(f"{k}={v}" for k, v in c.theta.items())
        rows.append(",".join(str(v) for v in (
            c.index, s.label, s.D, s.A, s.H, s.I, c.params, c.ops, c.group, int(c.trained),
            "" if c.error is None else c.error, "" if c.w is None else c.w, theta)))
    records.atomic_write_text(out / "candidates.csv", "\n".join(rows) + "\n")
    return out


def load_result(path: str | os.PathLike[str]) -> FptasResult:
    """Read an `FptasResult` from ``fptas_result.json`` (or a folder holding one)."""
    path = Path(path)
    path = path / "fptas_result.json" if path.is_dir() else path
    return FptasResult.from_dict(records.load_json(path))


__all__ = [
    "E_FLOOR",
    "OBJECTIVES",
    "THETA_PRESETS",
    "Candidate",
    "FptasConfig",
    "FptasResult",
    "Trial",
    "assemble",
    "load_result",
    "maximum_point",
    "objectives",
    "save_result",
    "search",
    "seq_len_for",
    "theta_preset",
    "training_budget",
    "trim",
    "w_coefficient",
]
