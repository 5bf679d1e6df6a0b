"""Fine-tuning comparison for the README: pretrained student vs random init vs MiniLM.

For each task, three models are fine-tuned with the same θ (or tuned over the same Θ preset)
on the same seeded split and train subsample: the KD-pretrained student (notebook 03 /
`bortkit pretrain` export), the same architecture from random initialisation, and the shipped
MiniLM checkpoint. Each run evaluates on validation every epoch, keeps the best epoch and
scores the test split with it.

Usage (from the repository root):
    .venv/bin/python benchmarks/finetune_compare.py --student artifacts/03_pretrain \\
        --tasks rt,sms --train-size 1000 --eval-size 500 --epochs 3
Prints a markdown table; --json writes every FinetuneResult too.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import bortkit  # noqa: F401 - offline environment before transformers
from bortkit import data
from bortkit.arch import count_params, parse_spec
from bortkit.finetune import FinetuneConfig, arch_of, compare, comparison_sources
from bortkit.records import save_json
from bortkit.theta import Theta, theta_grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", default="notebooks/artifacts/03_pretrain",
                    help="pretrained student folder (or notebook 03's output_dir)")
    ap.add_argument("--fallback-spec", default="4,4,128,96",
                    help="random-init shape when there is no student")
    ap.add_argument("--tasks", default="rt,sms")
    ap.add_argument("--models", default="pretrained-student,random-init,minilm",
                    help="subset of the compared models to run")
    ap.add_argument("--train-size", type=int, default=1000)
    ap.add_argument("--eval-size", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-4, help="the single θ's learning rate")
    ap.add_argument("--theta", default=None, help="tune each model over this Θ preset instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--json", default=None, help="also write all results to this JSON file")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    thetas = (theta_grid(args.theta) if args.theta else
              (Theta(seed=args.seed, lr=args.lr, weight_decay=0.01, warmup_ratio=0.1,
                     batch_size=16),))
    config = FinetuneConfig(epochs=args.epochs, patience=args.patience,
                            max_length=args.max_length)
    sources = comparison_sources(args.student, fallback_spec=parse_spec(args.fallback_spec))
    wanted = args.models.split(",")
    sources = {k: v for k, v in sources.items() if k in wanted}
    if not sources:
        raise SystemExit(f"none of --models {args.models} is available: {list(sources)}")
    rows, everything = [], {}
    start = time.perf_counter()
    for task in args.tasks.split(","):
        dd = data.load_task(task, seed=args.seed, train_size=args.train_size,
                            eval_size=args.eval_size)
        best = compare(sources, dd, thetas=thetas, config=config)
        everything[task] = best
        for name, r in best.items():
            src = sources[name]
            spec = src if not isinstance(src, (str, os.PathLike)) else arch_of(src)
            rows.append((task, name, spec.label, count_params(spec).total, r.train_size,
                         r.theta.label, f"{r.best_epoch}/{r.epochs_run}", r.val.accuracy,
                         r.test.accuracy, r.test.macro_f1, r.seconds))
    total = time.perf_counter() - start
    print(f"\n{platform.processor() or platform.machine()}, torch threads "
          f"{torch.get_num_threads()}, max_length {args.max_length}, total {total / 60:.1f} min\n")
    print("| task | model | shape | params | train | θ | best/run epochs | val acc | test acc "
          "| test macro-F1 | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t, n, shape, p, size, th, ep, va, ta, tf, s in rows:
        print(f"| {t} | {n} | {shape} | {p / 1e6:.2f} M | {size} | {th} | {ep} | {va:.3f} "
              f"| {ta:.3f} | {tf:.3f} | {s:.0f} |")
    if args.json:
        save_json(args.json, {"args": vars(args), "seconds": total, "results": everything})


if __name__ == "__main__":
    main()
