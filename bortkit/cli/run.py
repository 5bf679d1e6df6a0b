"""`bortkit run NOTEBOOK -p name value ...`: execute one notebook headless with papermill."""

from __future__ import annotations

import argparse
from pathlib import Path

from bortkit.cli import args as types
from bortkit.run import pipeline


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="execute one notebook headless (papermill)",
        description="Execute a notebook from notebooks/ with parameters; values are converted "
        "to the types its parameters cell declares.",
    )
    p.add_argument("notebook", help="stem (01_profile), file name or path of a notebook")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="set a parameter (repeatable)")
    p.add_argument("--out", default=None, type=types.nonempty,
                   help="output_dir (default: runs/single/<stem>)")
    types.add_device(p, help_text="the notebook's device parameter: " + types.DEVICE_HELP
                     + " (-p device wins)")
    p.add_argument("--no-progress", action="store_true", help="hide the cell progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = pipeline.resolve_notebook(args.notebook)
    params = pipeline.device_parameter(path, types.require_device(args.device))
    for name, value in args.parameter:
        if name == "output_dir":
            raise ValueError("set output_dir with --out, not -p output_dir")
        params[name] = pipeline.coerce_parameter(path, name, value)
    out = Path(args.out) if args.out else Path("runs") / "single" / path.stem
    result = pipeline.run_notebook(path, output_dir=out, parameters=params,
                                   progress=not args.no_progress)
    if not result.ok:
        print(f"{path.stem} failed: {result.error}\nexecuted notebook: {result.executed}")
        return 1
    print(f"{path.stem} done in {result.seconds:.0f} s; outputs in {result.output_dir}")
    return 0
