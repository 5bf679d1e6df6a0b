"""Bort in miniature: teacher → extracted shape → KD pretraining → Agora fine-tuning → test.

Runs `bortkit.agora.miniature.run_miniature` (issue 15) on rt over several seeds in one run and
prints the headline table: teacher (MiniLM-L6 fine-tuned) vs the extracted student — effective
(non-embedding) parameter ratio, measured CPU latency at each (batch, sequence), test accuracy
mean ± sd — with the ablations (no KD pretraining, no Agora, the Agora random-source control)
and the three goals (≤ 20% effective size, ≥ 5× faster, accuracy ≥ teacher − 1 point), each
with its margin. Writes the `MiniatureResult` JSON plus the command, date, machine and load.

    .venv/bin/python benchmarks/bort_miniature.py                  # the real run (~30 min)
    .venv/bin/python benchmarks/bort_miniature.py --smoke          # end to end in ~1 minute
    .venv/bin/python benchmarks/bort_miniature.py --teacher-dir .cache/teacher/<key>

Sizes are `MiniatureConfig()` unless a flag changes them; the student shape is a given one
(`--shape`, documented in docs/design/agora.md) unless `--fptas-dir` names an FPTAS run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import bortkit  # noqa: F401 - sets the offline environment before transformers/datasets
from bortkit.agora.miniature import miniature_table, run_miniature
from bortkit.agora.miniature_records import ARMS, MiniatureConfig
from bortkit.pretrain.teacher import TeacherConfig

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "bort_miniature.json"


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - no load average on this platform
        return "n/a"


def config_from(args: argparse.Namespace) -> MiniatureConfig:
    """The run's `MiniatureConfig`: the defaults (or smoke sizes), then each flag given."""
    base = MiniatureConfig.smoke() if args.smoke else MiniatureConfig()
    # flags that set one MiniatureConfig field as they are (lists become tuples)
    direct = {"seeds": "seeds", "shape": "student_shape", "fptas_dir": "fptas_dir",
              "teacher_dir": "teacher_dir", "arms": "arms",
              "pool_distill_size": "pool_distill_size", "kd_route": "kd_route"}
    changes: dict = {field: tuple(v) if isinstance(v, list) else v
                     for flag, field in direct.items() if (v := getattr(args, flag))}
    if args.teacher_steps:
        changes["teacher"] = TeacherConfig(steps=args.teacher_steps)
    if args.kd_steps:
        changes["pretrain"] = base.pretrain.replace(steps=args.kd_steps)
    agora = base.agora
    if args.train_size:
        agora = agora.replace(train_size=args.train_size, labeller_size=args.train_size)
    if args.steps:
        agora = agora.replace(student=agora.student.replace(steps=args.steps))
    if args.threads:
        agora = agora.replace(student=agora.student.replace(threads=args.threads))
        changes["latency_threads"] = args.threads
    changes["agora"] = agora
    return base.replace(**changes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, same path (~1 minute)")
    p.add_argument("--seeds", type=int, nargs="+", help="fine-tuning seeds (default 0 1 2)")
    p.add_argument("--shape", help="student D,A,H,I (default: STUDENT_SHAPE)")
    p.add_argument("--fptas-dir", help="take the student shape from this FPTAS run")
    p.add_argument("--teacher-dir", help="a built teacher MLM folder to use as it is")
    p.add_argument("--teacher-steps", type=int, help="build/load the teacher MLM of N steps")
    p.add_argument("--kd-steps", type=int, help="KD pretraining steps")
    p.add_argument("--arms", nargs="+", choices=ARMS,
                   help=f"arms to run (default: all of {', '.join(ARMS)}; 'agora' always)")
    p.add_argument("--pool-distill-size", type=int,
                   help="pool sentences of the pool-distill arm (default 5000)")
    p.add_argument("--kd-route", choices=("cache", "live"),
                   help="KD from the teacher-output cache (default) or the live teacher")
    p.add_argument("--train-size", type=int, help="gold train examples (teacher and student)")
    p.add_argument("--steps", type=int, help="student optimiser steps per fit")
    p.add_argument("--threads", type=int, help="torch threads for fits and latency")
    p.add_argument("--work-dir", help="keep the models here (default: a temporary folder)")
    p.add_argument("--out", default=None, help=f"JSON record (default {DEFAULT_OUT}; "
                   "--smoke: none unless given)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = config_from(args)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_before = _load()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bort-miniature-") as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        result = run_miniature(config, work, progress=False,
                               on_stage=lambda s: print(f"[{time.perf_counter() - t0:6.0f} s] "
                                                        f"{s} (load {_load()})", flush=True))
    wall = time.perf_counter() - t0
    table = miniature_table(result)
    print(table)
    print(f"\nwall time {wall / 60:.1f} min; 1/5/15-min load before {load_before}, "
          f"after {_load()}")
    out = Path(args.out) if args.out else (None if args.smoke else DEFAULT_OUT)
    if out is not None:
        record = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                  "date_utc": started, "wall_seconds": round(wall, 1),
                  "load_before": load_before, "load_after": _load(),
                  "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                              "python": platform.python_version()},
                  "table": table, "goals": result.goals(), "result": result.to_dict()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
