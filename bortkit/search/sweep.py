"""Run a batch of (ξ, θ) evaluations through the results store and an executor.

The one place where stored results are reused and new ones committed: for each (spec, θ) the
store key is looked up first; only misses go to the executor, and each result is committed the
moment it arrives (so a killed sweep loses only what was in flight). Results are returned by
position, never in completion order, so every executor gives the same answer.
"""

from __future__ import annotations

from typing import Any, Sequence

from bortkit.arch import ArchSpec
from bortkit.search.evaluation import EvalResult, Evaluator
from bortkit.search.executors import Executor, LocalExecutor
from bortkit.search.store import Store, make_key
from bortkit.theta import Theta


def _run_one(
    evaluator: Evaluator, spec: ArchSpec, theta: Theta, steps: int, seed: int
) -> EvalResult:
    # Top-level so that process and Dask executors can pickle it.
    return evaluator.evaluate(spec, theta, steps=steps, seed=seed)


def evaluate_candidates(
    specs: Sequence[ArchSpec],
    *,
    thetas: Sequence[Theta],
    steps: int,
    seed: int,
    space_name: str,
    evaluator: Evaluator,
    store: Store | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> tuple[list[list[tuple[EvalResult, bool]]], int]:
    """Evaluate every spec under every θ for `steps` steps, reusing the store.

    Args:
        specs: the candidates to train.
        thetas: Θ; every spec is trained once per θ.
        steps, seed: the training budget and seed of every evaluation.
        space_name: part of the store key.
        evaluator: does the training (its `version` is part of the key).
        store: results store (default: a throw-away in-memory one).
        executor: where the misses run (default: this process, in order).
        progress: show a tqdm bar over the evaluations that really run.

    Returns:
        Per spec, a list over Θ of ``(result, cached)``; and the number of store hits.
    """
    version = evaluator.version
    store = store if store is not None else Store(":memory:")
    executor = executor if executor is not None else LocalExecutor()
    out: list[list[Any]] = [[None] * len(thetas) for _ in specs]
    todo: list[tuple[int, int, str]] = []
    for a, spec in enumerate(specs):
        for b, theta in enumerate(thetas):
            key = make_key(space=space_name, spec=spec.to_dict(), theta=theta.to_dict(),
                           steps=steps, seed=seed, evaluator=version)
            hit = store.get(key)
            if hit is not None:
                out[a][b] = (hit, True)
            else:
                todo.append((a, b, key))
    n_cached = len(specs) * len(thetas) - len(todo)
    tasks = [(evaluator, specs[a], thetas[b], steps, seed) for a, b, _ in todo]
    bar = None
    if progress and tasks:
        from tqdm.auto import tqdm  # lazy: tqdm.auto imports IPython when it is installed

        bar = tqdm(total=len(tasks), desc=f"training {len(tasks)} (ξ, θ)", unit="eval")
    try:
        for t, res in executor.imap_unordered(_run_one, tasks):
            a, b, key = todo[t]
            store.put(key, res, space=space_name, spec=specs[a].to_dict(),
                      theta=thetas[b].to_dict(), steps=steps, seed=seed, evaluator=version)
            out[a][b] = (res, False)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out, n_cached


__all__ = ["evaluate_candidates"]
