"""Predicted cost (op count) against measured latency over every candidate of a search space.

Times every candidate with the profiler (`bortkit.measure.cost.measure_costs`: round-robin,
one thread by default, cached per environment fingerprint), fits ln(ms) = a + b·ln(ops), and
reports the residuals and Spearman's rank correlation (`cost_agreement`).

Usage::

    python benchmarks/predicted_vs_measured.py                      # CPU space, seq 128
    python benchmarks/predicted_vs_measured.py --space tiny --seq-len 16 --repeats 3   # smoke
    python benchmarks/predicted_vs_measured.py --space cpu --device cuda   # on a GPU node

Writes benchmarks/results/predicted_vs_measured_<space>.json (or --out): the command, date,
`uptime` before and after, the agreement record and the cost table (without every call's
time; the full table is in the latency cache).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import bortkit  # noqa: F401 - offline environment first
from bortkit import records
from bortkit.measure.cost import CostConfig, cost_agreement, measure_costs
from bortkit.search.space import SearchSpace
from bortkit.utils import DEVICES, cache_dir


def _uptime() -> str:
    try:
        done = subprocess.run(["uptime"], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _slim(table: dict) -> dict:
    """The table without each candidate's every call (`times_ms`): the JSON stays small."""
    for lat in table["latencies"]:
        lat.pop("times_ms", None)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="cpu", help="paper, cpu or tiny")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--no-interleave", action="store_true", help="one candidate after another")
    p.add_argument("--cache", default=str(cache_dir() / "latency"),
                   help="latency cache folder ('' for none)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    space = SearchSpace.named(args.space)
    config = CostConfig(seq_len=min(args.seq_len, space.max_position_embeddings),
                        batch_size=args.batch_size, repeats=args.repeats, warmup=args.warmup,
                        threads=args.threads, device=args.device,
                        interleave=not args.no_interleave)
    before, t0 = _uptime(), time.time()
    table = measure_costs(space, config, cache=args.cache or None, progress=True)
    agreement = cost_agreement(table)
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d"),
              "uptime_before": before, "uptime_after": _uptime(), "seconds": time.time() - t0,
              "agreement": agreement.to_dict(), "table": _slim(table.to_dict())}
    out = Path(args.out or f"benchmarks/results/predicted_vs_measured_{space.name}.json")
    records.save_json(out, result)
    s = agreement.summary()
    print(f"{result['date']}; `{result['command']}`; {table.n_cached}/{len(table.latencies)} "
          f"cached; uptime before: {before}; after: {result['uptime_after']}")
    print(f"{space.name} space, {s['n']} candidates on {agreement.device} (batch "
          f"{agreement.batch_size}, seq {agreement.seq_len}, {table.env.threads} threads): "
          f"Spearman ρ = {s['spearman_rho']:.3f}; ms ∝ ops^{s['slope']:.2f} (R² {s['r2']:.3f}); "
          f"residual rms {s['rms_residual']:.3f}, max |r| {s['max_abs_residual']:.3f} (ln)")
    print("worst predicted: " + ", ".join(f"{lab} {r:+.2f}" for lab, r in agreement.worst(5)))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
