"""FPTAS vs exhaustive vs NSGA-II on one evaluator, one budget, one shared results store.

For each ε: the FPTAS (trained candidates, W of its choice relative to exhaustive, front
hypervolume relative to exhaustive and to NSGA-II given the same number of trained
candidates). The budget N is fixed (``--steps``) so that one exhaustive run (every candidate
under the same budget) is the optimum for every ε; the SQLite store means no
(candidate, θ, steps, seed) is ever trained twice across methods. Because of that sharing, the
cost column is "train s": the evaluator-reported seconds of every evaluation the method needed
(what it would cost alone); "wall s" is this process's time, where store hits are free.

Hypervolumes use one normalisation for all methods: objectives divided by the exhaustive run's
maxima, reference point 1.1 in each (i.e. 1.1 × max).

    python benchmarks/fptas_vs_baselines.py --space cpu --evaluator surrogate --steps 100 \\
        --epsilons 0.1,0.25,0.5 --store runs/bench/store.sqlite --out runs/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import bortkit  # noqa: F401 - offline environment first
from bortkit import records
from bortkit.pretrain.surrogate import SurrogateEvaluator
from bortkit.run import artifacts
from bortkit.search import FptasConfig, FptasResult, SearchSpace, baselines, fptas, pareto
from bortkit.search.evaluation import Evaluator, SyntheticEvaluator
from bortkit.search.store import Store
from bortkit.theta import theta_grid


def hv(result: FptasResult, scale: tuple[float, ...]) -> float:
    pts = [(c.params, c.ops, c.error) for c in result.trained]
    return pareto.normalised_hypervolume(pts, scale=scale)


def _audit(result: FptasResult) -> str | None:
    """The assumption audit in one cell: groups below 1 − ε / groups audited (lowest ratio)."""
    a = result.audit
    if a is None or not a.n_groups:
        return None
    low = "—" if a.min_ratio is None else f"{a.min_ratio:.3f}"
    return f"{a.n_violated} / {a.n_groups} ({low})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="cpu")
    ap.add_argument("--evaluator", default="surrogate", choices=("surrogate", "synthetic"))
    ap.add_argument("--error", default="kl", help="surrogate error: kl or accuracy")
    ap.add_argument("--init", default="pca", help="surrogate init: pca, random or inherit")
    ap.add_argument("--train-embeddings", action="store_true",
                    help="train the surrogate's embedding tables (default: frozen)")
    ap.add_argument("--epsilons", default="0.1,0.25,0.5")
    ap.add_argument("--steps", type=int, default=10, help="budget N per (candidate, θ)")
    ap.add_argument("--theta", default="one")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--smoke-teacher", action="store_true")
    ap.add_argument("--teacher-set", default="",
                    help="TeacherConfig changes of the surrogate's teacher, e.g. steps=400")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--audit-fraction", type=float, default=FptasConfig.audit_fraction,
                    help="share of non-representative members the FPTAS's audit trains")
    ap.add_argument("--nsga-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (surrogate)")
    ap.add_argument("--store", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load_before = os.getloadavg()

    if args.evaluator == "surrogate":
        import torch  # lazy: the synthetic evaluator needs no torch

        torch.set_num_threads(args.threads)
        base = SurrogateEvaluator(batch_size=args.batch_size, seq_len=args.seq_len,
                                  smoke=args.smoke_teacher).cache_config()
        teacher = base.teacher
        for item in filter(None, args.teacher_set.split(",")):
            name, value = item.split("=")
            teacher = teacher.replace(**{name: type(getattr(teacher, name))(value)})
        ev: Evaluator = SurrogateEvaluator(
            batch_size=args.batch_size, seq_len=args.seq_len, error=args.error, init=args.init,
            freeze_embeddings=not args.train_embeddings, smoke=args.smoke_teacher,
            cache=base.replace(teacher=teacher))
    else:
        ev = SyntheticEvaluator()
    space = SearchSpace.named(args.space)
    epsilons = [float(e) for e in args.epsilons.split(",")]
    out = artifacts.run_dir(args.out)
    store = Store(args.store)

    def config(eps: float) -> FptasConfig:
        return FptasConfig(epsilon=eps, steps=args.steps, batch_size=args.batch_size,
                           theta=theta_grid(args.theta), seed=args.seed,
                           audit_fraction=args.audit_fraction)

    runs: list[tuple[str, float, FptasResult]] = []
    # FPTAS first (largest ε = fewest candidates first), so its wall time is measured before
    # the exhaustive run fills the store; then NSGA-II at equal counts; exhaustive last.
    for eps in sorted(epsilons, reverse=True):
        runs.append(("fptas", eps, fptas.search(space, config(eps), evaluator=ev, store=store)))
    # NSGA-II gets as many trained candidates as the FPTAS used, its audit included (equal
    # training budgets; the FPTAS's front also contains its audited members)
    for eps in sorted(epsilons, reverse=True):
        n = next(r.n_trained for m, e, r in runs if m == "fptas" and e == eps)
        runs.append(("nsga2", eps, baselines.nsga2(space, config(eps), evaluator=ev,
                                                   n_candidates=n, store=store,
                                                   seed=args.nsga_seed)))
    exh = baselines.exhaustive(space, config(min(epsilons)), evaluator=ev, store=store)
    scale = exh.front.scale
    hv_exh = hv(exh, scale)
    errors = [c.error for c in exh.candidates]

    rows = []
    for eps in sorted(epsilons):
        r = next(x for m, e, x in runs if m == "fptas" and e == eps)
        ns = next(x for m, e, x in runs if m == "nsga2" and e == eps)
        for name, res in (("FPTAS", r), ("NSGA-II", ns)):
            rows.append({
                "method": name, "epsilon": eps, "trained": res.n_trained, "space": res.n_space,
                "audited": res.n_audited,
                "train_s": res.train_seconds, "wall_s": res.wall_seconds,
                "chosen": res.chosen.spec.label, "chosen_error": res.chosen.error,
                "w_rel": res.chosen.w / exh.chosen.w,
                "meets_1_minus_eps": res.chosen.w >= (1 - eps) * exh.chosen.w,
                "hv_rel_exh": hv(res, scale) / hv_exh,
                "hv_rel_nsga2": hv(r, scale) / hv(ns, scale) if name == "FPTAS" else None,
                "audit": _audit(res) if name == "FPTAS" else None,
            })
    rows.append({"method": "exhaustive", "epsilon": None, "trained": exh.n_trained,
                 "audited": 0, "chosen_error": exh.chosen.error,
                 "space": exh.n_space, "train_s": exh.train_seconds, "wall_s": exh.wall_seconds,
                 "chosen": exh.chosen.spec.label, "w_rel": 1.0, "meets_1_minus_eps": True,
                 "hv_rel_exh": 1.0, "hv_rel_nsga2": None, "audit": None})

    lines = [
        f"evaluator: `{ev.version}`; space `{space.name}` (|Ξ|={len(space)}); budget "
        f"{args.steps} steps; Θ={args.theta}; seed {args.seed}; store `{args.store}`",
        f"surrogate error over Ξ: min {min(errors):.4f}, max {max(errors):.4f}, sd "
        f"{statistics.pstdev(errors):.4f}, {len(set(round(e, 4) for e in errors))} distinct "
        f"values (4 decimals) of {len(errors)}",
        f"started {started}, load {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"command `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        "",
        "| method | ε | trained / abs(Ξ) (audited) | train s | wall s | chosen | e | W / W_exh | "
        "≥ 1−ε | HV / HV_exh | HV / HV_NSGA-II | audit: violated / groups (min ratio) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in rows:
        eps = "—" if x["epsilon"] is None else f"{x['epsilon']:g}"
        nsga = "—" if x["hv_rel_nsga2"] is None else f"{x['hv_rel_nsga2']:.3f}"
        lines.append(
            f"| {x['method']} | {eps} | {x['trained']} / {x['space']} ({x['audited']}) | "
            f"{x['train_s']:.1f} | {x['wall_s']:.1f} | {x['chosen']} | {x['chosen_error']:.3f} | "
            f"{x['w_rel']:.3f} | "
            f"{'yes' if x['meets_1_minus_eps'] else 'no'} | {x['hv_rel_exh']:.3f} | {nsga} | "
            f"{x['audit'] or '—'} |")
    table = "\n".join(lines).replace("abs(Ξ)", "|Ξ|".replace("|", "\\|"))
    print(table)
    records.atomic_write_text(Path(out) / "fptas_vs_baselines.md", table + "\n")
    records.save_json(Path(out) / "fptas_vs_baselines.json",
                        {"rows": rows, "args": vars(args), "evaluator": ev.version,
                         "errors": errors, "created": time.time(), "started": started,
                         "load_before": load_before, "load_after": os.getloadavg(),
                         "command": " ".join([Path(sys.executable).name, *sys.argv]),
                         "exhaustive": [{"shape": c.spec.label, "params": c.params,
                                         "ops": c.ops, "error": c.error, "w": c.w}
                                        for c in exh.candidates]})
    fptas.save_result(exh, Path(out) / "exhaustive")
    store.close()
    print(json.dumps({"out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
