"""The profiler's median against `torch.utils.benchmark.Timer`, on the same models, call by call.

Both clocks time the same model objects on the same inputs in one process, interleaved: each
round times every model once with the profiler's clock (`bortkit.measure.latency.time_forward`,
what `measure_latency` and `bortkit profile` use) and once with `Timer.timeit(1)`, alternating
which goes first, so that the drift of a shared machine (20–30% between separate runs, measured)
hits both alike. The goal: medians within 5%.

Notes on the comparison: `Timer` sets its own thread count (`num_threads`, default 1), so both
clocks run under the same `--threads`; `Timer.timeit(1)` runs two untimed calls before its timed
one (its built-in warm-up), which the profiler does not do per call; both run under
`torch.inference_mode()`.

Usage::

    python benchmarks/profiler_vs_timer.py                       # the four presets below
    python benchmarks/profiler_vs_timer.py --smoke               # two tiny shapes, seconds
    python benchmarks/profiler_vs_timer.py --presets bert-base --rounds 50 --threads 2

Writes benchmarks/results/profiler_vs_timer.json (or --out) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bortkit  # noqa: F401 - offline environment first
from bortkit import records
from bortkit.measure.latency import prepare_model, time_forward
from bortkit.measure.machine import env_fingerprint, torch_threads
from bortkit.measure.records import resolve_model
from bortkit.utils import DEVICES, resolve_device

DEFAULT = "tinybert-4,minilm-l6-h384,bort,bert-base"
SMOKE = "2,2,32,64,100;1,2,64,128,100"
GOAL = 0.05


def _uptime() -> str:
    try:
        done = subprocess.run(["uptime"], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def compare(models, *, seq_len: int, batch_size: int, rounds: int, warmup: int,
            threads: int, device: str) -> list[dict]:
    """Per model: every call of both clocks, their medians and the ratio profiler / Timer."""
    import torch
    from torch.utils import benchmark

    prepared = [prepare_model(spec, seq_len=seq_len, batch_size=batch_size, device=device)
                for _, spec in models]
    timers = [benchmark.Timer(stmt="model(**inputs)", globals={"model": m, "inputs": x},
                              num_threads=threads, label=name)
              for (name, _), (m, x) in zip(models, prepared)]
    ours: list[list[float]] = [[] for _ in models]
    theirs: list[list[float]] = [[] for _ in models]

    def timer_ms(j: int) -> float:
        with torch.inference_mode():
            return timers[j].timeit(1).median * 1e3

    with torch_threads(threads):
        for (m, x), timer in zip(prepared, timers):
            time_forward(m, x, warmup, device=device)
            with torch.inference_mode():
                timer.timeit(max(1, warmup))
        for r in range(rounds):
            for j, (m, x) in enumerate(prepared):
                if r % 2 == 0:  # alternate which clock goes first
                    ours[j] += time_forward(m, x, 1, device=device)
                    theirs[j].append(timer_ms(j))
                else:
                    theirs[j].append(timer_ms(j))
                    ours[j] += time_forward(m, x, 1, device=device)
    rows = []
    for (name, spec), a, b in zip(models, ours, theirs):
        med_a, med_b = statistics.median(a), statistics.median(b)
        rows.append({"name": name, "label": spec.label, "profiler_median_ms": med_a,
                     "timer_median_ms": med_b, "ratio": med_a / med_b,
                     "within_goal": abs(med_a / med_b - 1) <= GOAL,
                     "profiler_ms": a, "timer_ms": b})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default=DEFAULT, help="comma-separated presets")
    p.add_argument("--spec", default="", help="';'-separated 'D,A,H,I[,V]' shapes as well")
    p.add_argument("--smoke", action="store_true", help=f"only the tiny shapes {SMOKE!r}")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--rounds", type=int, default=30, help="timed calls per model and clock")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=DEVICES)
    p.add_argument("--out", default="benchmarks/results/profiler_vs_timer.json")
    args = p.parse_args(argv)
    names = [] if args.smoke else [n for n in args.presets.split(",") if n]
    shapes = SMOKE if args.smoke else args.spec
    models = [resolve_model(n) for n in names] + [resolve_model(s) for s in shapes.split(";")
                                                  if s]
    device = resolve_device(args.device)
    seq_len = min(args.seq_len, *(s.max_position_embeddings for _, s in models))
    before, t0 = _uptime(), time.time()
    rows = compare(models, seq_len=seq_len, batch_size=args.batch_size, rounds=args.rounds,
                   warmup=args.warmup, threads=args.threads, device=device)
    result = {"command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d"),
              "uptime_before": before, "uptime_after": _uptime(),
              "seconds": time.time() - t0, "seq_len": seq_len, "batch_size": args.batch_size,
              "rounds": args.rounds, "threads": args.threads, "device": device, "goal": GOAL,
              "env": env_fingerprint(threads=args.threads, device=device).to_dict(),
              "models": rows}
    out = records.save_json(Path(args.out), result)
    print(f"{result['date']}; `{result['command']}`; uptime before: {before}; after: "
          f"{result['uptime_after']}")
    print("| model | profiler median ms | Timer median ms | profiler / Timer | within 5% |")
    print("|---|---:|---:|---:|:---:|")
    for r in rows:
        print(f"| {r['name']} | {r['profiler_median_ms']:.2f} | {r['timer_median_ms']:.2f} | "
              f"{r['ratio']:.3f} | {'yes' if r['within_goal'] else 'no'} |")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
