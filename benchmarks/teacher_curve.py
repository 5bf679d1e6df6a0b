"""The teacher's curve: held-out masked-token accuracy (restricted vocabulary) against steps.

Builds the MLM teacher (`bortkit.pretrain.teacher.adapt_teacher`) with the given settings,
evaluating every ``--eval-every`` steps on the fixed held-out blocks, and records, per point:
step, accuracy over the restricted targets, cross-entropy, coverage (scored / masked positions)
and wall seconds of the build so far. With the default settings it builds the cached default
teacher (the one `load_teacher()` returns); a build already cached is reported, not redone
(its numbers are the original build's). ``--no-cache`` measures a variant without caching it.

Usage (from the repository root; a quiet machine for meaningful seconds):
    .venv/bin/python benchmarks/teacher_curve.py                        # the default teacher
    .venv/bin/python benchmarks/teacher_curve.py --steps 300 --no-cache --label short
Appends the run (under its label) to benchmarks/results/teacher_curve.json and prints a
markdown table with the command, date and machine load (`uptime`) before and after.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import bortkit  # noqa: F401 - offline environment before transformers
from bortkit.measure.machine import torch_threads
from bortkit.pretrain.teacher import TeacherConfig, adapt_teacher
from bortkit.records import load_json, save_json

RESULTS = Path(__file__).resolve().parent / "results" / "teacher_curve.json"


def _uptime() -> str:
    try:
        done = subprocess.run(["uptime"], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"


def main() -> None:
    default = TeacherConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=default.steps)
    ap.add_argument("--head-lr", type=float, default=default.head_lr)
    ap.add_argument("--body-lr", type=float, default=default.body_lr)
    ap.add_argument("--head-only-steps", type=int, default=default.head_only_steps)
    ap.add_argument("--vocab-size", type=int, default=default.vocab_size_kept)
    ap.add_argument("--batch-size", type=int, default=default.batch_size)
    ap.add_argument("--precision", default=default.precision, choices=("auto", "fp32", "bf16"))
    ap.add_argument("--train-word-embeddings", action="store_true",
                    help="train the input word embeddings too (default: frozen)")
    ap.add_argument("--train-mask", type=float, default=default.train_mlm_probability,
                    help="masking rate in training (default: TeacherConfig's)")
    ap.add_argument("--dropout", type=float, default=default.dropout,
                    help="encoder dropout during the build (default: TeacherConfig's)")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--no-cache", action="store_true", help="do not cache (or reuse) the build")
    ap.add_argument("--label", default="default", help="name of this run in the results file")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    config = TeacherConfig(steps=args.steps, head_lr=args.head_lr, body_lr=args.body_lr,
                           head_only_steps=args.head_only_steps,
                           vocab_size_kept=args.vocab_size, batch_size=args.batch_size,
                           precision=args.precision,
                           freeze_word_embeddings=not args.train_word_embeddings,
                           train_mlm_probability=args.train_mask, dropout=args.dropout,
                           eval_every=args.eval_every)
    before, date = _uptime(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with torch_threads(args.threads) as threads:
        result = adapt_teacher(config=config, cache=not args.no_cache)
    # CPU seconds of this process (all threads): with one thread, about what a quiet machine's
    # wall clock would show; 0 build seconds when the teacher came from the cache.
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    points = [result.before, *result.history]
    run = {
        "label": args.label,
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": date,
        "uptime_before": before,
        "uptime_after": _uptime(),
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "torch_threads": threads},
        "key": result.config.key(),
        "path": result.path,
        "config": result.config.to_dict(),
        "vocab_size": result.vocab_size,
        "vocab_train_coverage": result.vocab_coverage,
        "seconds": result.seconds,
        "this_run": {"wall_seconds": wall, "cpu_seconds": cpu},
        "resumed_from": list(result.resumed_from),
        "curve": [{"step": p.step, "accuracy": p.accuracy, "loss": p.loss,
                   "coverage": p.coverage, "seconds": p.seconds, "n_tokens": p.n_tokens}
                  for p in points],
    }
    runs = load_json(args.out)["runs"] if args.out.is_file() else []
    runs = [r for r in runs if r["label"] != args.label] + [run]
    save_json(args.out, {"runs": runs})

    print(f"{run['date']}; `{run['command']}`; {run['machine']['cores']} cores, "
          f"{threads} torch threads; uptime before: {before}; after: {run['uptime_after']}")
    print(f"teacher {run['key']} at {run['path']}; K = {run['vocab_size']} tokens "
          f"({run['vocab_train_coverage']:.1%} of train tokens); build {result.seconds:.0f} s; "
          f"this run {wall:.0f} s wall, {cpu:.0f} s CPU")
    print("| step | held-out accuracy (restricted) | loss | coverage | seconds |")
    print("|---:|---:|---:|---:|---:|")
    for p in run["curve"]:
        print(f"| {p['step']} | {p['accuracy']:.2%} | {p['loss']:.3f} | {p['coverage']:.3f} "
              f"| {p['seconds']:.0f} |")


if __name__ == "__main__":
    main()
