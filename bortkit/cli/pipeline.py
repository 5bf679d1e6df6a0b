"""`bortkit pipeline --profile quick|full`: notebooks 01 → 05 into runs/<stamp>/ with an index."""

from __future__ import annotations

import argparse
import sys

from bortkit.cli import args as types
from bortkit.run import pipeline


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pipeline",
        help="run the notebook pipeline (01 -> 05) into runs/<stamp>/",
        description="Run the pipeline notebooks headless; each notebook's outputs feed the next. "
        "Writes runs/<stamp>/index.html. Re-run with --stamp to resume a run.",
    )
    p.add_argument("--profile", default="quick", choices=sorted(pipeline.PROFILES))
    p.add_argument("--runs-root", default="runs", type=types.nonempty,
                   help="parent folder of run folders")
    p.add_argument("--stamp", default=None, type=types.nonempty,
                   help="resume (or name) the run runs/<stamp>/")
    p.add_argument("--only", default=None, help="comma-separated notebook stems to run")
    types.add_device(p, help_text="every notebook's device parameter: " + types.DEVICE_HELP)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    device = types.require_device(args.device)
    only = tuple(s.strip() for s in args.only.split(",")) if args.only else None

    def announce(k: int, n: int, step: pipeline.Step) -> None:
        print(f"[{k + 1}/{n}] {step.notebook} ...", file=sys.stderr, flush=True)

    result = pipeline.run_pipeline(args.profile, runs_root=args.runs_root, stamp=args.stamp,
                                   only=only, on_step=announce, device=device)
    for r in result.runs:
        status = "skipped (done)" if r.skipped else ("ok" if r.ok else f"FAILED: {r.error}")
        print(f"{r.notebook:<14} {r.seconds:7.0f} s  {status}")
    print(f"total {result.seconds:.0f} s")
    print(f"outputs: {result.run_dir}")
    print(f"index:   {result.run_dir}/index.html")
    return 0 if result.ok else 1
