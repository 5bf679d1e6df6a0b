"""`bortkit profile`: CPU latency of presets and shapes, speed-ups, and the GEMM peak.

Example (the README table)::

    bortkit profile --presets bert-base,bert-large,bort --seq-len 128 --batch-size 1 \\
        --repeats 20 --json /tmp/latency.json
"""

from __future__ import annotations

import argparse
import math
import sys

from bortkit import arch, records
from bortkit.cli import args as types
from bortkit.measure import DEFAULT_REFERENCES, ProfileConfig, profile_presets


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile",
        help="measure CPU latency of presets / shapes and their speed-ups",
        description="Time the forward pass of random-weight HF BertModels on this CPU (warm-up, "
        "repeats, median and spread, fixed threads), measure the fp32 GEMM peak, and report "
        "speed-ups relative to bert-base and bert-large when they are measured.",
    )
    p.add_argument(
        "--presets",
        default="bert-base,bort",
        type=types.presets,
        help=f"comma-separated preset names (from: {', '.join(arch.PRESETS)}); '' for none",
    )
    p.add_argument(
        "--spec",
        action="append",
        default=[],
        type=types.arch_spec,
        metavar="D,A,H,I[,V]",
        help="a custom shape to measure as well (repeatable)",
    )
    p.add_argument("--seq-len", type=types.positive_int, default=128, help="tokens per sequence")
    p.add_argument("--batch-size", type=types.positive_int, default=1,
                   help="sequences per forward call")
    p.add_argument("--repeats", type=types.positive_int, default=20,
                   help="timed forward calls per model")
    p.add_argument("--warmup", type=types.nonnegative_int, default=5,
                   help="untimed forward calls first")
    p.add_argument("--threads", type=types.positive_int, default=None,
                   help="torch threads (default: torch's)")
    p.add_argument("--seed", type=types.seed, default=0, help="seeds weights and token ids")
    p.add_argument("--gemm-size", type=types.positive_int, default=2048,
                   help="matrix side for the GEMM peak")
    p.add_argument("--gemm-repeats", type=types.positive_int, default=5, help="timed GEMMs")
    p.add_argument("--no-gemm", action="store_true", help="skip the GEMM peak measurement")
    p.add_argument(
        "--interleave",
        action="store_true",
        help="hold every model in memory and time them round-robin (fairer ratios on a "
        "shared machine; needs the memory of all models at once)",
    )
    types.add_device(p, help_text="where the models run: auto (CUDA when present), cpu or cuda")
    p.add_argument("--json", metavar="FILE", default=None, type=types.nonempty,
                   help="write the full report here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def run(args: argparse.Namespace) -> int:
    types.require_device(args.device)  # a missing GPU fails before any measuring
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    for name in names:
        arch.get_preset(name)  # ValueError naming the bad preset, before any measuring
    items: list[str | arch.ArchSpec] = [*names, *(arch.parse_spec(s) for s in args.spec)]
    if not items:
        raise ValueError("nothing to profile: give --presets and/or --spec")
    config = ProfileConfig(
        presets=tuple(items),
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        repeats=args.repeats,
        warmup=args.warmup,
        threads=args.threads,
        seed=args.seed,
        gemm_size=None if args.no_gemm else args.gemm_size,
        gemm_repeats=args.gemm_repeats,
        interleave=args.interleave,
        device=args.device,
    )
    report = profile_presets(config, progress=not args.no_progress)
    if args.json:
        records.save_json(args.json, report)
    env, peak = report.env, report.peak
    print(
        f"{env.gpu_model or env.cpu_model} ({env.device}), {env.n_cores} cores, "
        f"{report.latencies[0].threads} threads, "
        f"torch {env.torch_version}; batch {args.batch_size}, seq {args.seq_len}, "
        f"{args.repeats} repeats{', interleaved' if report.interleaved else ''}; "
        f"load {env.load_avg_1m:.2f}"
    )
    if peak is not None:
        print(f"fp32 GEMM peak ({peak.size}^3): {peak.gflops:.1f} GFLOP/s")
    refs = [r for r in DEFAULT_REFERENCES if r in report.names]
    head = f"{'model':<18}{'params':>9}{'median ms':>11}{'IQR ms':>9}{'min ms':>9}{'GFLOP/s':>9}"
    print(head + "".join(f"{'x vs ' + r:>16}" for r in refs))
    for lat in report.latencies:
        line = (
            f"{lat.name:<18}{lat.n_params / 1e6:>8.1f}M{lat.latency_ms:>11.2f}"
            f"{lat.iqr_ms:>9.2f}{lat.min_ms:>9.2f}{_fmt(lat.achieved_gflops, '.1f'):>9}"
        )
        line += "".join(f"{report.speedup(lat.name, over=r):>16.2f}" for r in refs)
        print(line)
    if args.json:
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


__all__ = ["register", "run"]
