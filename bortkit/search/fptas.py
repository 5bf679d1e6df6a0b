"""Optimal subarchitecture extraction (OSE) by the FPTAS of de Wynter (arXiv 2010.08512).

The papers' algorithm listing is not available (see reference/bort-papers.md §2); this module is
the project's reconstruction. Every step below is tagged SOURCED (stated by a source, with the
reference of bort-papers.md) or PROJECT CHOICE (ours, exposed as a field of `FptasConfig`):

1. p(ξ), i(ξ) exactly for all of Ξ (analytic polynomials; O(|Ξ|)); p counts the
   effective (non-embedding) parameters by default, for Ξ and T alike (`param_count`).
   Status: polynomials SOURCED [S6]; "effective size" [S3] and AB^nC's cheap input/output
   layers [S14]; the default is a measured PROJECT CHOICE (docs/design/search.md).
2. T = the maximum point: p_T, i_T = max p, max i over Ξ (or a preset that dominates Ξ).
   Status: SOURCED [S2, S15]; the preset option is a PROJECT CHOICE.
3. ε-trimming: within each head count A, order by cost and group consecutive candidates whose
   p and i lie within a (1+ε) factor of the group's first; one representative per group.
   Status: "partition the ordered space every ε, keep a representative" SOURCED in spirit
   [S6]; the rule, and never merging A (`trim.group_key` says why), PROJECT CHOICE.
4. Budget N = ceil(c / (ε · s^{3/2})) steps per (ξ, θ), clamped, or an explicit `steps`.
   Status: the 1/(ε s^{3/2}) shape SOURCED from (b)'s running time [S2]; c, clamp: CHOICE.
5. W(ξ, θ) = ((p_T − p)/p_T)·((i_T − i)/i_T) / max(e, 1e-7); the best θ per candidate.
   Status: third-party reading of (b) [S15], UNVERIFIED.
6. Return argmax_ξ W over the representatives.  Status: INFERRED (Alg. 1's last line).
7. The assumption audit: train a seeded `audit_fraction` of the other members; per group,
   W(representative) / W(best audited member) against 1 − ε (`bortkit.search.audit`).
   Step 6 ignores them. Status: the 1 − ε bound for AB^nC instances is SOURCED [S2]; measuring
   it is a PROJECT CHOICE.
8. Untrained members inherit their representative's e (marked ``inherited``); the (p, i, e)
   Pareto front of every candidate with an e.  Status: PROJECT CHOICE (DESIGN.md choice 4).

The pieces of each step are pure functions in `bortkit.search.trim` and `bortkit.search.audit`;
the inputs are an `FptasConfig` (`bortkit.search.config`), the output an `FptasResult`
(`bortkit.search.result`), saved into a run folder by `save_result` and read back by
`load_result` (the stage's hand-off). This module imports neither torch nor plotly; the
evaluator does the training.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

from bortkit import records
from bortkit.arch import PRESETS, count_params
from bortkit.search import audit, pareto, sweep
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import EvalResult, Evaluator
from bortkit.search.executors import Executor
from bortkit.search.result import Candidate, FptasResult, Trial
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store
from bortkit.search.trim import (
    group_key,
    maximum_point,
    space_objectives,
    trim,
    w_coefficient,
)

logger = logging.getLogger(__name__)

OBJECTIVES = ("params", "ops", "error")


def seq_len_for(space: SearchSpace, config: FptasConfig) -> int:
    """The n at which i(ξ) is counted: `config.seq_len` or min(128, max positions)."""
    return config.seq_len or min(128, space.max_position_embeddings)


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
    audited: Sequence[int] = (),
) -> FptasResult:
    """Build the `FptasResult`: W per trial, best θ, argmax W, inheritance, front and audit.

    Shared by `search` and the baselines, so that every method chooses and measures alike.
    `trained` maps candidate index → its results per θ (representatives and `audited` members);
    the choice is made among the trained candidates that are not `audited`.
    """
    specs = space.specs()
    n = seq_len_for(space, config)
    pi = space_objectives(specs, param_count=config.param_count, seq_len=n,
                          cost=config.cost, latency_ms=dict(config.latency_ms))
    p_t, i_t = maximum_point([p for p, _ in pi], [i for _, i in pi], name=config.maximum_point,
                             param_count=config.param_count, seq_len=n)
    group_of = {k: g for g, members in enumerate(groups) for k in members}
    audited_set = set(audited)

    def trials_of(k: int, source: int, *, inherited: bool) -> tuple[Trial, ...]:
        # SOURCED [S15]: W per θ; the candidate keeps the best over Θ (Candidate.best). An
        # inherited candidate re-scores its representative's errors with its own p and i.
        p, i = pi[k]
        return tuple(
            Trial(theta=theta, error=r.error, loss=r.loss,
                  seconds=0.0 if inherited else r.seconds,
                  w=w_coefficient(p, i, r.error, p_t=p_t, i_t=i_t), cached=hit,
                  checkpoint="" if inherited else r.checkpoint)
            for theta, (r, hit) in zip(config.theta, trained.get(source, []))
        )

    cands = []
    for k, spec in enumerate(specs):
        g = group_of[k]
        own = k in trained
        # PROJECT CHOICE (step 8): an untrained member inherits its trained representative's e.
        inherited = not own and reps[g] in trained
        trials = trials_of(k, k if own else reps[g], inherited=inherited)
        cands.append(Candidate(k, spec, *pi[k], g, reps[g], trials,
                               config.budget_steps if own else None,
                               audited=k in audited_set, inherited=inherited))
    done = [c for c in cands if c.trained and not c.audited]
    if not done:
        raise ValueError("no candidate was trained; nothing to choose from")
    # INFERRED (Alg. 1, last line): return argmax_ξ W*(ξ); ties go to the cheapest index order.
    chosen = max(done, key=lambda c: (c.w, -c.index))
    # PROJECT CHOICE 4: the 3-objective front of every candidate with an e (trained or
    # inherited), normalised hypervolume.
    known = [c for c in cands if c.trials]
    fr = pareto.front([(c.params, c.ops, c.error) for c in known], names=OBJECTIVES)
    fr = dataclasses.replace(fr, indices=tuple(known[j].index for j in fr.indices))
    n_weights = count_params(PRESETS[config.maximum_point]).total if config.maximum_point != \
        "grid" else max(p for p, _ in pi)
    complexity = len(specs) + n_weights * (
        1 + len(config.theta) * config.batch_size * len(specs) / (config.epsilon * config.s**1.5)
    )  # SOURCED [S2]: O(|Ξ| + |W*_T| (1 + |Θ||B||Ξ| / (ε s^{3/2})))
    checked = audit.audit(groups, reps, tuple(audited),
                          {c.index: c.w for c in cands if c.trained},
                          fraction=config.audit_fraction, seed=config.audit_seed,
                          epsilon=config.epsilon)
    return FptasResult(
        method=method, space=space, config=config, evaluator=evaluator.version, chosen=chosen,
        candidates=tuple(cands), groups=groups, p_t=p_t, i_t=i_t,
        budget_steps=config.budget_steps, bound=1.0 - config.epsilon, complexity=complexity,
        front=fr, n_cached=n_cached, wall_seconds=time.perf_counter() - started,
        audit=checked,
    )


def search(
    space: SearchSpace,
    config: FptasConfig,
    *,
    evaluator: Evaluator,
    store: Store | None = None,
    executor: Executor | None = None,
    trim_space: bool = True,
    progress: bool = True,
) -> FptasResult:
    """Run the FPTAS on Ξ = `space` and return the argmax-W architecture and the front.

    Args:
        space: Ξ.
        config: ε, s, Θ, budget and the project choices (`FptasConfig`; `.smoke()` for tests).
        evaluator: gives the surrogate error after the bounded training
            (`bortkit.search.evaluation`; the real one is
            `bortkit.pretrain.surrogate.SurrogateEvaluator`).
        store: results store; evaluations already stored are reused, new ones committed.
        executor: where evaluations run (`bortkit.search.executors`); default in this process.
        trim_space: False trains every candidate (the exhaustive baseline, same budget).
        progress: show a tqdm bar while training.
    """
    if not isinstance(space, SearchSpace):
        raise TypeError(f"space must be a search.SearchSpace, got {type(space).__name__}")
    if not isinstance(config, FptasConfig):
        raise TypeError(f"config must be an FptasConfig, got {type(config).__name__}")
    if not (hasattr(evaluator, "evaluate") and hasattr(evaluator, "version")):
        raise TypeError(f"evaluator must have .evaluate() and .version, got {evaluator!r}")
    started = time.perf_counter()
    specs = space.specs()
    n = seq_len_for(space, config)
    # Step 1, SOURCED [S6]: p and i are closed-form polynomials, computed for all Ξ in O(|Ξ|).
    pi = space_objectives(specs, param_count=config.param_count, seq_len=n,
                          cost=config.cost, latency_ms=dict(config.latency_ms))
    params, ops = [p for p, _ in pi], [i for _, i in pi]
    # Step 2, SOURCED [S2, S15]: the maximum point T (validated: it dominates every candidate).
    maximum_point(params, ops, name=config.maximum_point, param_count=config.param_count,
                  seq_len=n)
    # Step 3, SOURCED in spirit [S6], rule = PROJECT CHOICE: ε-trimming within each head count
    # (trim.group_key says why A is never merged); train the representatives.
    if trim_space:
        groups, reps = trim(params, ops, epsilon=config.epsilon, order=config.order,
                            representative=config.representative,
                            keys=[group_key(s) for s in specs])
    else:
        groups, reps = tuple((k,) for k in range(len(specs))), tuple(range(len(specs)))
    # Step 7, PROJECT CHOICE: the audit's members, drawn now (they depend only on the groups),
    # trained after the representatives in the same sweep so executors run them in parallel.
    audited = audit.sample_members(groups, reps, fraction=config.audit_fraction,
                                   seed=config.audit_seed)
    logger.info("%s: %d candidates, %d representatives + %d audited, budget %d steps",
                space.name, len(specs), len(reps), len(audited), config.budget_steps)
    # Steps 4-5, SOURCED loop over Θ [S15] with the bounded budget N(ε, s) (PROJECT CHOICE).
    todo = [*reps, *audited]
    results, n_cached = sweep.evaluate_candidates(
        [specs[k] for k in todo], thetas=config.theta, steps=config.budget_steps,
        seed=config.seed, space_name=space.name, evaluator=evaluator, store=store,
        executor=executor, progress=progress)
    trained = {k: results[j] for j, k in enumerate(todo)}
    # Steps 5-8: W, best θ, argmax over the representatives, inheritance, front, audit.
    return assemble("fptas" if trim_space else "exhaustive", space, config, evaluator,
                    groups=groups, reps=reps, trained=trained, n_cached=n_cached,
                    started=started, audited=audited)


def save_result(result: FptasResult, out: str | os.PathLike[str]) -> Path:
    """Write ``fptas_result.json`` (the `FptasResult`) and ``candidates.csv`` into folder `out`.

    Both files are written atomically; downstream stages read `load_result(out)`.
    Returns the folder.
    """
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    result.save(out)
    columns = ("index", "label", "D", "A", "H", "I", "params", "ops", "group", "trained",
               "error", "w", "theta", "audited", "inherited")
    lines = [",".join(columns)]
    for row in result.rows():
        for flag in ("trained", "audited", "inherited"):
            row[flag] = int(row[flag])
        lines.append(",".join("" if row[k] is None else str(row[k]) for k in columns))
    records.atomic_write_text(out / "candidates.csv", "\n".join(lines) + "\n")
    return out


def load_result(path: str | os.PathLike[str]) -> FptasResult:
    """The `FptasResult` saved in a run folder (or its ``fptas_result.json`` file).

    The search stage's hand-off: downstream stages read ``load_result(run_dir).chosen.spec``.
    """
    return FptasResult.load(path)


__all__ = [
    "OBJECTIVES",
    "assemble",
    "load_result",
    "save_result",
    "search",
    "seq_len_for",
]
