"""`bortkit fptas`: run OSE by the FPTAS over a search space, resumably, and write the choice.

Writes into --out: ``fptas_result.json`` (the full `FptasResult`; downstream stages read
``bortkit.search.load_result(out).chosen.spec``) and ``candidates.csv``.
With --store, every evaluation is kept in SQLite: a killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse

from bortkit.arch import PRESETS
from bortkit.pretrain.surrogate import SurrogateEvaluator
from bortkit.run import artifacts
from bortkit.search import executors, fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import Evaluator, SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.search.store import open_store
from bortkit.theta import theta_grid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fptas",
        help="optimal subarchitecture extraction (OSE) by the FPTAS",
        description="Train one representative per (1+eps) cost group for a bounded budget, "
        "pick argmax W, and write the choice and the (p, i, e) Pareto front.",
    )
    p.add_argument("--space", default="cpu", help="search space: paper, cpu or tiny")
    p.add_argument("--epsilon", type=float, default=0.1, help="approximation slack, in (0, 1)")
    p.add_argument("--s", type=float, default=1.0, help="the FPTAS input s (budget ∝ s^-1.5)")
    p.add_argument("--c", type=float, default=10.0, help="budget constant: N = c/(eps s^1.5)")
    p.add_argument("--steps", type=int, default=None, help="explicit budget N (overrides c)")
    p.add_argument("--max-steps", type=int, default=1000, help="cap on the budget N")
    p.add_argument("--theta", default="one",
                   help="Θ preset of bortkit.theta.THETA_PRESETS: one, lr2 or lr3")
    p.add_argument("--maximum-point", default="grid",
                   help=f"T: 'grid' (max p, i over the space) or a preset ({', '.join(PRESETS)})")
    p.add_argument("--batch-size", type=int, default=8, help="|B| (sequences per step)")
    p.add_argument("--seq-len", type=int, default=64, help="tokens per training sequence")
    p.add_argument("--seed", type=int, default=0, help="seed of every evaluation")
    p.add_argument("--evaluator", default="surrogate", choices=("surrogate", "synthetic"),
                   help="surrogate = KD pretraining error; synthetic = teaching stand-in")
    p.add_argument("--smoke", action="store_true", help="smoke-sized teacher for the surrogate")
    p.add_argument("--store", default=None, help="SQLite results file (resume / share runs)")
    p.add_argument("--executor", default="local", choices=executors.EXECUTORS)
    p.add_argument("--address", default=None, help="Dask scheduler address (tcp://host:port)")
    p.add_argument("--workers", type=int, default=2, help="workers (process / local Dask)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def build_evaluator(name: str, *, batch_size: int, seq_len: int, smoke: bool) -> Evaluator:
    """The evaluator a CLI/benchmark run uses, sized by the run's |B| and sequence length."""
    if name == "synthetic":
        return SyntheticEvaluator()
    return SurrogateEvaluator(batch_size=batch_size, seq_len=seq_len, smoke=smoke)


def run(args: argparse.Namespace) -> int:
    space = SearchSpace.named(args.space)
    config = FptasConfig(
        epsilon=args.epsilon, s=args.s, c=args.c, steps=args.steps, max_steps=args.max_steps,
        batch_size=args.batch_size, theta=theta_grid(args.theta),
        maximum_point=args.maximum_point, seed=args.seed,
    )
    evaluator = build_evaluator(args.evaluator, batch_size=args.batch_size,
                                seq_len=args.seq_len, smoke=args.smoke)
    out = artifacts.run_dir(args.out)
    store = open_store(args.store)
    ex = executors.make_executor(args.executor, address=args.address, n_workers=args.workers)
    try:
        result = fptas.search(space, config, evaluator=evaluator, store=store, executor=ex,
                              progress=not args.no_progress)
    finally:
        ex.close()
        store.close()
    fptas.save_result(result, out)
    c = result.chosen
    print(f"chosen {c.spec.label}: W={c.w:.4g} e={c.error:.4f} p={c.params:,} i={c.ops:,}")
    print(f"trained {result.n_trained}/{result.n_space} candidates x {len(config.theta)} θ "
          f"for {result.budget_steps} steps ({result.n_cached} evaluations from the store); "
          f"front {len(result.front)} points, hypervolume {result.front.hypervolume:.4f}")
    print(f"wrote {out / 'fptas_result.json'} and {out / 'candidates.csv'}")
    return 0


__all__ = ["build_evaluator", "register", "run"]
