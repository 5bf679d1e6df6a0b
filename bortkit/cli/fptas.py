"""`bortkit fptas`: run OSE by the FPTAS over a search space, resumably, and write the choice.

Writes into --out: ``fptas_result.json`` (the full `FptasResult`; downstream stages read
``bortkit.search.load_result(out).chosen.spec``) and ``candidates.csv``.
With --store, every evaluation is kept in SQLite: a killed run resumes where it stopped.
The run ends with the assumption audit's line, a plain WARNING when it found violations (the
1 − ε bound then does not hold for this evaluator).
"""

from __future__ import annotations

import argparse
import sys

from bortkit.arch import PRESETS
from bortkit.cli import args as types
from bortkit.measure.cost import CostConfig, measure_costs
from bortkit.pretrain.surrogate import SurrogateEvaluator
from bortkit.run import artifacts
from bortkit.search import executors, fptas, optuna_study
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SURFACES, Evaluator, SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.search.store import open_store
from bortkit.search.trim import PARAM_COUNTS
from bortkit.theta import theta_grid
from bortkit.utils import cache_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fptas",
        help="optimal subarchitecture extraction (OSE) by the FPTAS",
        description="Train one representative per (1+eps) cost group for a bounded budget, "
        "pick argmax W, and write the choice and the (p, i, e) Pareto front.",
    )
    p.add_argument(
        "--space", type=types.space, default="cpu", help="search space: paper, cpu or tiny"
    )
    p.add_argument(
        "--epsilon", type=types.open_unit, default=0.1, help="approximation slack, in (0, 1)"
    )
    p.add_argument(
        "--s", type=types.positive_float, default=1.0, help="the FPTAS input s (budget ∝ s^-1.5)"
    )
    p.add_argument(
        "--c", type=types.positive_float, default=10.0, help="budget constant: N = c/(eps s^1.5)"
    )
    p.add_argument(
        "--steps", type=types.positive_int, default=None, help="explicit budget N (overrides c)"
    )
    p.add_argument(
        "--max-steps", type=types.positive_int, default=1000, help="cap on the budget N"
    )
    p.add_argument(
        "--theta",
        type=types.theta_preset,
        default="one",
        help="Θ preset of bortkit.theta.THETA_PRESETS: one, lr2 or lr3",
    )
    p.add_argument(
        "--maximum-point",
        default="grid",
        help=f"T: 'grid' (max p, i over the space) or a preset ({', '.join(PRESETS)})",
    )
    p.add_argument(
        "--batch-size", type=types.positive_int, default=8, help="|B| (sequences per step)"
    )
    p.add_argument(
        "--seq-len", type=types.positive_int, default=64, help="tokens per training sequence"
    )
    p.add_argument("--seed", type=types.seed, default=0, help="seed of every evaluation")
    p.add_argument(
        "--param-count",
        default="effective",
        choices=PARAM_COUNTS,
        help="p for the candidates, T and W: effective (no embeddings) or total",
    )
    p.add_argument(
        "--audit-fraction",
        type=types.probability,
        default=0.1,
        help="share of non-representative members trained to audit the "
        "error-correspondence assumption, in [0, 1] (0: no audit)",
    )
    p.add_argument("--audit-seed", type=types.seed, default=0, help="seed of the audit's sample")
    p.add_argument(
        "--evaluator",
        default="surrogate",
        choices=("surrogate", "synthetic"),
        help="surrogate = KD pretraining error; synthetic = teaching stand-in",
    )
    p.add_argument(
        "--surface",
        default="size",
        choices=SURFACES,
        help="synthetic evaluator's error surface: size (the assumption holds) or "
        "shape (it fails; the audit should say so)",
    )
    p.add_argument("--smoke", action="store_true", help="smoke-sized teacher for the surrogate")
    types.add_device(p, help_text="where the surrogate trains: " + types.DEVICE_HELP)
    p.add_argument("--keep-weights", type=types.nonempty, default=None, metavar="DIR",
                   help="keep each trained candidate's weights here as a loadable HF folder "
                        "(surrogate only; the explorer exports them)")
    p.add_argument("--keep-max-mb", type=types.positive_float, default=500.0,
                   help="disk bound on --keep-weights, in MB: past it no more are kept "
                        "(nothing is deleted)")
    p.add_argument(
        "--store",
        type=types.nonempty,
        default=None,
        help="SQLite results file (resume / share runs)",
    )
    p.add_argument("--executor", default="local", choices=executors.EXECUTORS)
    p.add_argument("--address", default=None, help="Dask scheduler address (tcp://host:port)")
    p.add_argument(
        "--workers", type=types.positive_int, default=2, help="workers (process / local Dask)"
    )
    p.add_argument("--cost", default="ops", choices=("ops", "latency"),
                   help="i(ξ): analytic op count, or median latency measured on this machine "
                        "for every candidate (cached per environment)")
    p.add_argument("--optuna-storage", default=None, metavar="URL",
                   help="also write the sweep to an Optuna study (e.g. sqlite:///sweeps.db)")
    p.add_argument("--optuna-study", default=None, help="study name (default: the --out name)")
    p.add_argument("--out", type=types.nonempty, required=True, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def build_evaluator(
    name: str,
    *,
    batch_size: int,
    seq_len: int,
    smoke: bool,
    surface: str = "size",
    device: str = "auto",
    keep_weights: str = "",
    keep_max_mb: float = 500.0,
) -> Evaluator:
    """The evaluator a CLI/benchmark run uses, sized by the run's |B| and sequence length.

    `keep_weights` (a folder; "" off) keeps each trained candidate's weights: surrogate only.
    """
    if name == "synthetic":
        if keep_weights:
            raise ValueError("--keep-weights needs --evaluator surrogate (the synthetic "
                             "evaluator trains no model)")
        return SyntheticEvaluator(surface=surface)
    return SurrogateEvaluator(batch_size=batch_size, seq_len=seq_len, smoke=smoke, device=device,
                              keep_weights=keep_weights, keep_max_mb=keep_max_mb)


def _measured_latency(space: SearchSpace, args: argparse.Namespace) -> tuple:
    """Median latency (ms) of every candidate, measured here and cached per environment."""
    config = CostConfig(seq_len=min(128, space.max_position_embeddings), device=args.device)
    table = measure_costs(space, config, cache=cache_dir() / "latency",
                          progress=not args.no_progress)
    return tuple(table.costs("latency").items())


def run(args: argparse.Namespace) -> int:
    types.require_device(args.device)  # a missing GPU fails before any training too
    if args.optuna_storage:  # a bad URL fails before any training
        optuna_study.check_storage(args.optuna_storage, create_folder=True)
    space = SearchSpace.named(args.space)
    config = FptasConfig(
        epsilon=args.epsilon,
        s=args.s,
        c=args.c,
        steps=args.steps,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        theta=theta_grid(args.theta),
        maximum_point=args.maximum_point,
        seed=args.seed,
        param_count=args.param_count,
        audit_fraction=args.audit_fraction,
        audit_seed=args.audit_seed,
        cost=args.cost,
        latency_ms=_measured_latency(space, args) if args.cost == "latency" else (),
    )
    evaluator = build_evaluator(
        args.evaluator,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        smoke=args.smoke,
        surface=args.surface,
        device=args.device,
        keep_weights=args.keep_weights or "",
        keep_max_mb=args.keep_max_mb,
    )
    out = artifacts.run_dir(args.out)
    store = open_store(args.store)
    ex = executors.make_executor(args.executor, address=args.address, n_workers=args.workers)
    try:
        result = fptas.search(
            space,
            config,
            evaluator=evaluator,
            store=store,
            executor=ex,
            progress=not args.no_progress,
        )
    finally:
        ex.close()
        store.close()
    fptas.save_result(result, out)
    if args.optuna_storage:
        done = optuna_study.export_study(result, storage=args.optuna_storage,
                                         study_name=args.optuna_study or out.name, overwrite=True)
        print(f"wrote {done.n_trials} trials to Optuna; view: optuna-dashboard {done.storage}")
    c = result.chosen
    print(f"chosen {c.spec.label}: W={c.w:.4g} e={c.error:.4f} p={c.params:,} i={c.ops:,}")
    print(
        f"trained {result.n_trained}/{result.n_space} candidates ({result.n_audited} for the "
        f"audit) x {len(config.theta)} θ for {result.budget_steps} steps "
        f"({result.n_cached} evaluations from the store); {result.n_inherited} inherit their "
        f"representative's e; front {len(result.front)} points, hypervolume "
        f"{result.front.hypervolume:.4f}"
    )
    spread = result.error_spread()
    print(
        f"e over the trained: min {spread.min:.4f}, median {spread.median:.4f}, "
        f"max {spread.max:.4f}"
    )
    print(f"wrote {out / 'fptas_result.json'} and {out / 'candidates.csv'}")
    if args.keep_weights:
        n_kept = sum(bool(c.checkpoint) for c in result.trained)
        print(f"kept the weights of {n_kept}/{result.n_trained} trained candidates in "
              f"{args.keep_weights}")
    print(result.audit.report())
    if result.audit.warning:
        print(f"WARNING: {result.audit.warning}", file=sys.stderr)
    return 0


__all__ = ["build_evaluator", "register", "run"]
