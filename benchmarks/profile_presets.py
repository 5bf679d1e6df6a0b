"""Render a `bortkit profile --json` report as the markdown tables of the README (Profile).

Usage: python benchmarks/profile_presets.py /tmp/latency.json [more.json ...]
(`benchmarks/profile_presets.sh` measures and then calls this.)
"""

from __future__ import annotations

import sys

import bortkit  # noqa: F401 - offline environment first
from bortkit.measure import DEFAULT_REFERENCES, ProfileReport, paper


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def render(report: ProfileReport) -> str:
    env, peak = report.env, report.peak
    first = report.latencies[0]
    lines = [
        f"{env.cpu_model}, {env.n_cores} cores, {first.threads} torch threads, torch "
        f"{env.torch_version}, transformers {env.transformers_version}; batch "
        f"{first.batch_size}, seq {first.seq_len}, {first.n_warmup} warm-up + {first.n_repeat} "
        f"timed calls{' (interleaved)' if report.interleaved else ''}; 1-min load at start "
        f"{env.load_avg_1m:.2f}"
        + (f"; fp32 GEMM peak {peak.gflops:.0f} GFLOP/s ({peak.size}³)" if peak else ""),
        "",
        "| model | params | median ms | IQR ms | min ms | GFLOP/s | × vs bert-base | "
        "× vs bert-large | × vs bert-base (min) | × vs bert-large (min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    refs = DEFAULT_REFERENCES
    for lat in report.latencies:
        cells = [
            lat.name,
            f"{lat.n_params / 1e6:.1f} M",
            f"{lat.latency_ms:.1f}",
            f"{lat.p25_ms:.1f}–{lat.p75_ms:.1f}",
            f"{lat.min_ms:.1f}",
            f"{lat.achieved_gflops:.0f}",
        ]
        for stat in ("median", "min"):
            for ref in refs:
                ok = ref in report.names
                cells.append(_x(report.speedup(lat.name, over=ref, stat=stat) if ok else None))
        lines.append("| " + " | ".join(cells) + " |")
    comp = paper.paper_comparison(report)
    lines += [
        "",
        "| Bort shape | metric | paper | ours | ours / paper |",
        "|---|---|---:|---:|---:|",
    ]
    for row in comp.rows:
        pct = row.metric.endswith("fraction")
        fmt = (lambda v: f"{v:.1%}") if pct else _x  # noqa: E731
        ours = "–" if row.measured is None else fmt(row.measured)
        ratio = "–" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(f"| {row.model} | {row.metric} | {fmt(row.paper)} | {ours} | {ratio} |")
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for path in paths:
        print(f"<!-- {path} -->")
        print(render(ProfileReport.load(path)))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
