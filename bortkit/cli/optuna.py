"""`bortkit optuna-export`: write a stored sweep as an Optuna study, for optuna-dashboard.

Example::

    bortkit optuna-export runs/fptas --storage sqlite:///sweeps.db --study fptas-cpu
    optuna-dashboard sqlite:///sweeps.db

STORE_OR_RESULT is a run folder (or its ``fptas_result.json``) written by `bortkit fptas`,
notebook 02 or the baselines, or a results store (``--store`` of `bortkit fptas`). See
docs/design/optuna.md for what becomes params, values and user attributes.
"""

from __future__ import annotations

import argparse

from bortkit.search import optuna_study


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optuna-export",
        help="write a sweep (run folder or results store) as an Optuna study",
        description="Write every (candidate, θ) of a sweep as a COMPLETE trial of a "
        "three-objective Optuna study (minimise p, i, e) in an RDB storage, with θ and the "
        "shape as params and W, group, trained/inherited and the candidate card as user "
        "attributes; then view it with `optuna-dashboard URL`.",
    )
    p.add_argument("source", metavar="STORE_OR_RESULT",
                   help="a run folder / fptas_result.json, or a bortkit results store (SQLite)")
    p.add_argument("--storage", required=True,
                   help="Optuna RDB storage URL, e.g. sqlite:///sweeps.db")
    p.add_argument("--study", required=True, help="study name (must be new unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace a study of that name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    done = optuna_study.export_study(args.source, storage=args.storage, study_name=args.study,
                                     overwrite=args.overwrite)
    print(f"wrote {done.n_trials} trials ({done.source}) to study {done.study_name!r} in "
          f"{done.storage}; view: optuna-dashboard {done.storage}")
    return 0


__all__ = ["register", "run"]
