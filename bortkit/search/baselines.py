"""Baselines for the FPTAS on the same evaluator, budget, Θ and store (DESIGN.md choice 5).

* `exhaustive`: train every candidate of Ξ under the same budget — the optimum the FPTAS
  approximates (its argmax W is the reference for the ≥ (1 − ε) check).
* `nsga2`: Optuna's NSGA-II (seeded `NSGAIISampler`) over (D, A, H, I) minimising (p, i, e),
  stopped once it has trained as many *distinct* candidates as the FPTAS did. A repeated
  suggestion is answered from the results already computed and does not count.

Both return an `FptasResult` (method ``"exhaustive"`` / ``"nsga2"``) so that the choice,
the front and the hypervolume are computed the same way for every method.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bortkit.search import fptas, sweep
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import Evaluator
from bortkit.search.executors import Executor
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store
from bortkit.search.trim import maximum_point, space_objectives, w_coefficient

logger = logging.getLogger(__name__)


def exhaustive(
    space: SearchSpace,
    config: FptasConfig,
    *,
    evaluator: Evaluator,
    store: Store | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> FptasResult:
    """Train every candidate of `space` (no trimming) under `config`'s budget and Θ."""
    return fptas.search(space, config, evaluator=evaluator, store=store, executor=executor,
                        trim_space=False, progress=progress)


def nsga2(
    space: SearchSpace,
    config: FptasConfig,
    *,
    evaluator: Evaluator,
    n_candidates: int,
    store: Store | None = None,
    seed: int = 0,
    population_size: int = 8,
    max_trials: int | None = None,
    progress: bool = True,
) -> FptasResult:
    """NSGA-II over Ξ until `n_candidates` distinct candidates have been trained.

    Args:
        space: Ξ; the sampler picks D, (A, H) among valid pairs, and I.
        config, evaluator, store: as for `fptas.search` (each candidate is trained under
            every θ ∈ Θ for the same budget; its objective e is the best-W θ's error).
        n_candidates: distinct candidates to train (the FPTAS's `n_trained` for a fair match).
        seed: the `NSGAIISampler` seed.
        population_size: NSGA-II population.
        max_trials: safety cap on optuna trials (default 50 × n_candidates).
    """
    import optuna  # lazy: heavy, and only this baseline needs it

    specs = space.specs()
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or not (
        1 <= n_candidates <= len(specs)
    ):
        raise ValueError(f"n_candidates must be an int in [1, {len(specs)}], got {n_candidates!r}")
    started = time.perf_counter()
    index = {s.dai: k for k, s in enumerate(specs)}
    pairs = sorted({(s.A, s.H) for s in specs})
    n = fptas.seq_len_for(space, config)
    pi = space_objectives(specs, param_count=config.param_count, seq_len=n,
                          cost=config.cost, latency_ms=dict(config.latency_ms))
    p_t, i_t = maximum_point([p for p, _ in pi], [i for _, i in pi], name=config.maximum_point,
                             param_count=config.param_count, seq_len=n)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population_size)
    study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)
    trained: dict[int, Any] = {}
    n_cached = 0
    cap = max_trials or 50 * n_candidates
    bar = None
    if progress:
        from tqdm.auto import tqdm  # lazy: tqdm.auto imports IPython when it is installed

        bar = tqdm(total=n_candidates, desc="nsga2 candidates", unit="cand")
    try:
        for _ in range(cap):
            if len(trained) >= n_candidates:
                break
            trial = study.ask()
            d = trial.suggest_categorical("D", list(space.layers))
            a, h = pairs[trial.suggest_categorical("AH", list(range(len(pairs))))]
            i = trial.suggest_categorical("I", list(space.intermediate))
            k = index[(d, a, h, i)]
            if k not in trained:
                res, hits = sweep.evaluate_candidates(
                    [specs[k]], thetas=config.theta, steps=config.budget_steps,
                    seed=config.seed, space_name=space.name, evaluator=evaluator,
                    store=store, progress=False)
                trained[k], n_cached = res[0], n_cached + hits
                if bar is not None:
                    bar.update(1)
            best = max(
                (r for r, _ in trained[k]),
                key=lambda r: w_coefficient(*pi[k], r.error, p_t=p_t, i_t=i_t),
            )
            study.tell(trial, [float(pi[k][0]), float(pi[k][1]), float(best.error)])
    finally:
        if bar is not None:
            bar.close()
    if len(trained) < n_candidates:
        logger.warning("nsga2: only %d distinct candidates after %d trials", len(trained), cap)
    groups = tuple((k,) for k in range(len(specs)))
    return fptas.assemble("nsga2", space, config, evaluator, groups=groups,
                          reps=tuple(range(len(specs))), trained=trained, n_cached=n_cached,
                          started=started)


__all__ = ["exhaustive", "nsga2"]
