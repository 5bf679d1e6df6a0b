"""Does the surrogate error at the FPTAS's budget N rank candidates as a 10× longer budget does?

For ≥ 12 candidates spanning the CPU space (a balanced design: every (D, H) pair once, A and I
cycled, plus the extra candidates on the (D, H) diagonal), the surrogate error is measured after
N and after factor·N steps (both read from the same teacher cache and the same data stream),
for each init. Every run yields both errors (the normalised KL and 1 − accuracy), so the table
gives Spearman's ρ between the N and the factor·N rankings for the new error ("kl") and the old
one ("accuracy"), the spread of e over the candidates, and the cost of a call.

``--speedup`` also times, at equal steps, a surrogate call reading the cache against the same
call recomputing the teacher's top-k on every batch (masking included: what every call paid
before the cache).

Results go to a JSON file that is rewritten after every run and read back on start, so an
interrupted benchmark resumes (rows are keyed by candidate, init, freeze, steps and settings).

    python benchmarks/surrogate_fidelity.py --inits pca --steps 100 --factor 10 \\
        --candidates 12 --out benchmarks/results/surrogate_fidelity.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import bortkit  # noqa: F401 - offline environment first
from bortkit import records
from bortkit.arch import ArchSpec
from bortkit.data.corpus import build_corpus
from bortkit.pretrain import teacher as teacher_lib
from bortkit.pretrain import teacher_head
from bortkit.pretrain.cache import CacheConfig, teacher_cache
from bortkit.pretrain.cache_arrays import CacheSplit
from bortkit.pretrain.cached_kd import (
    cached_tensors,
    heldout_metrics,
    student_logits,
    train_student,
)
from bortkit.pretrain.init import init_student
from bortkit.pretrain.mlm import corpus_blocks, mask_batch
from bortkit.pretrain.surrogate import SurrogateConfig, default_teacher, surrogate_error
from bortkit.pretrain.teacher import TeacherConfig
from bortkit.search.space import SearchSpace
from bortkit.theta import Theta


def candidates(space: SearchSpace, n: int) -> list[ArchSpec]:
    """A balanced spread over the space, deterministic: every (D, H) pair once with (A, I) from
    a Graeco-Latin square (on the 3×3×3×3 CPU space each value of every axis appears 3 times),
    then the (D, H) diagonal again with other (A, I)."""
    n_a, n_i = len(space.heads), len(space.intermediate)
    base = [(d, h, (d + h) % n_a, (d + 2 * h) % n_i)
            for d in range(len(space.layers)) for h in range(len(space.hidden))]
    extra = [(m, m, (2 * m + 1) % n_a, (m + 1) % n_i)
             for m in range(min(len(space.layers), len(space.hidden)))]
    out: list[ArchSpec] = []
    for d, h, a, i in itertools.islice(itertools.cycle(base + extra), n):
        out.append(ArchSpec(space.layers[d], space.heads[a], space.hidden[h],
                            space.intermediate[i], space.vocab_size,
                            space.max_position_embeddings, space.type_vocab_size))
    return out


def spearman(x: list[float], y: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def row_key(spec: ArchSpec, init: str, freeze: bool, steps: int, settings: dict) -> str:
    return json.dumps([spec.label, init, freeze, steps, settings], sort_keys=True)


def live_call(spec: ArchSpec, config: SurrogateConfig, *, cache: Any, teacher: Any,
              tokenizer: Any, blocks: Any) -> float:
    """Seconds of a surrogate call that recomputes masks and the teacher's top-k every step."""
    import torch

    device = "cpu"
    outputs = cache.open()
    _, held, log_u = cached_tensors(outputs, device)
    lookup = torch.as_tensor(outputs.vocab.lookup())
    b, k = config.theta.batch_size, config.cache.top_k
    gen = torch.Generator().manual_seed(0)

    def batch(step: int) -> CacheSplit:
        rows = blocks[torch.arange(step * b, (step + 1) * b) % len(blocks)]
        inputs, full = mask_batch(rows, tokenizer, generator=gen)
        masked = full != -100
        attn = torch.ones_like(inputs)
        with torch.inference_mode():
            top = teacher_head.restricted_logits(teacher, inputs, attn, masked).topk(k, dim=-1)
        labels = lookup[full.clamp(min=0)]
        labels[~masked | (labels < 0)] = -100
        counts = masked.sum(dim=1)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        return CacheSplit(inputs, attn, masked, labels, offsets, top.values.clone(),
                          top.indices.clone())

    t0 = time.perf_counter()
    student = init_student(spec, outputs.vocab, init=config.init, seed=config.theta.seed,
                           pca=outputs.pca, freeze_embeddings=config.freeze_embeddings)
    train_student(student, batch, steps=config.steps, theta=config.theta, device=device,
                  w_kd=config.w_kd, w_mlm=config.w_mlm, temperature=config.temperature,
                  grad_clip=config.grad_clip)
    heldout_metrics(student_logits(student), held, log_u)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="cpu")
    ap.add_argument("--candidates", type=int, default=12)
    ap.add_argument("--steps", type=int, default=100, help="N, the FPTAS's budget")
    ap.add_argument("--factor", type=int, default=10, help="the long budget is factor × N")
    ap.add_argument("--inits", default="pca", help="comma-separated: pca, random, inherit")
    ap.add_argument("--freeze", default="1", help="comma-separated freeze_embeddings: 1, 0")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="the smoke cache and teacher")
    ap.add_argument("--teacher", default="default", choices=("default", "smoke"),
                    help="the cached teacher: TeacherConfig() or TeacherConfig.smoke()")
    ap.add_argument("--teacher-set", default="",
                    help="TeacherConfig changes, e.g. steps=400,body_lr=0.0003")
    ap.add_argument("--speedup", type=int, default=0,
                    help="time cached vs live teacher for this many candidates (0: skip)")
    ap.add_argument("--speedup-steps", type=int, default=50)
    ap.add_argument("--out", default="benchmarks/results/surrogate_fidelity.json")
    args = ap.parse_args()

    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    teacher_cfg = (TeacherConfig.smoke() if args.teacher == "smoke" or args.smoke
                   else TeacherConfig())
    for item in filter(None, args.teacher_set.split(",")):
        name, value = item.split("=")
        teacher_cfg = teacher_cfg.replace(**{name: type(getattr(teacher_cfg, name))(value)})
    cache_cfg = (CacheConfig.smoke() if args.smoke else CacheConfig()).replace(
        teacher=teacher_cfg)
    cache = teacher_cache(cache_cfg)
    space = SearchSpace.named(args.space)
    specs = candidates(space, args.candidates)
    theta = Theta(seed=args.seed, lr=args.lr, weight_decay=0.01, warmup_ratio=0.06,
                  batch_size=args.batch_size)
    settings = {"cache": cache.key, "theta": theta.label}
    logging.info("teacher %s (key %s); cache %s", teacher_cfg, teacher_cfg.key(), cache.path)
    out = Path(args.out)
    state: dict[str, Any] = records.load_json(out) if out.is_file() else {}
    done = {r["key"]: r for r in state.get("runs", [])}

    def save() -> None:
        state.update(runs=list(done.values()), cache=cache.to_dict(), settings=settings)
        records.save_json(out, state)

    inits = args.inits.split(",")
    freezes = [bool(int(f)) for f in args.freeze.split(",")]
    for init, freeze, spec in itertools.product(inits, freezes, specs):
        for steps in (args.steps, args.factor * args.steps):
            key = row_key(spec, init, freeze, steps, settings)
            if key in done:
                continue
            cfg = SurrogateConfig(steps=steps, theta=theta, init=init, freeze_embeddings=freeze,
                                  cache=cache_cfg)
            r = surrogate_error(spec, cfg)
            done[key] = {"key": key, "spec": spec.label, "init": init, "freeze": freeze,
                         "steps": steps, "kl": r.kl, "accuracy": r.accuracy,
                         "kl_nats": r.kl_nats, "loss": r.loss, "seconds": r.seconds,
                         "n_params": r.n_params}
            logging.info("%s init=%s freeze=%s N=%d: kl %.4f acc %.4f (%.1fs)", spec.label,
                         init, freeze, steps, r.kl, r.accuracy, r.seconds)
            save()

    # rows of earlier invocations (other inits, other caches or θ) are kept
    redone = set(itertools.product(inits, freezes))
    table = [t for t in state.get("table", [])
             if t.get("settings") != settings or (t["init"], t["freeze"]) not in redone]
    for init, freeze in itertools.product(inits, freezes):
        def get(steps: int, field: str, _i: str = init, _f: bool = freeze) -> list[float]:
            rows = [done[row_key(s, _i, _f, steps, settings)] for s in specs]
            return [r[field] if field == "kl" else 1.0 - r[field] for r in rows]

        kl_n, kl_l = get(args.steps, "kl"), get(args.factor * args.steps, "kl")
        acc_n, acc_l = get(args.steps, "accuracy"), get(args.factor * args.steps, "accuracy")
        secs = [done[row_key(s, init, freeze, args.steps, settings)]["seconds"] for s in specs]
        for error, short, long in (("kl", kl_n, kl_l), ("accuracy", acc_n, acc_l)):
            mean = sum(short) / len(short)
            table.append({
                "settings": settings, "init": init, "freeze": freeze, "error": error,
                "rho": spearman(short, long),
                "rho_vs_long_kl": spearman(short, kl_l), "e_min": min(short),
                "e_max": max(short), "e_sd": math.sqrt(sum((e - mean) ** 2 for e in short)
                                                       / len(short)),
                "e_long_min": min(long), "e_long_max": max(long),
                "distinct": len({round(e, 4) for e in short}),
                "mean_call_s": sum(secs) / len(secs),
            })
    state["table"] = table

    if args.speedup:
        tokenizer = teacher_lib.load_tokenizer()
        teacher = default_teacher(cache_cfg.teacher).eval()
        blocks = corpus_blocks(build_corpus(), tokenizer, seq_len=cache_cfg.seq_len).train
        rows = []
        for spec in specs[: args.speedup]:
            cfg = SurrogateConfig(steps=args.speedup_steps, theta=theta, init=inits[0],
                                  freeze_embeddings=freezes[0], cache=cache_cfg, device="cpu")
            cached = surrogate_error(spec, cfg).seconds
            live = live_call(spec, cfg, cache=cache, teacher=teacher, tokenizer=tokenizer,
                             blocks=blocks)
            rows.append({"spec": spec.label, "cached_s": cached, "live_s": live,
                         "speedup": live / cached})
            logging.info("%s: cached %.2fs, live %.2fs: %.2fx", spec.label, cached, live,
                         live / cached)
        state["speedup"] = {"steps": args.speedup_steps, "rows": rows,
                            "mean_speedup": sum(r["speedup"] for r in rows) / len(rows),
                            "total_speedup": sum(r["live_s"] for r in rows)
                            / sum(r["cached_s"] for r in rows)}
    built = teacher_lib.adapt_teacher(config=teacher_cfg, progress=False)  # cached: a load
    state.setdefault("teachers", {})[cache.key] = {  # per cache: the teacher it distils
        "key": teacher_cfg.key(), "config": teacher_cfg.to_dict(),
        "after": built.after.to_dict(), "path": built.path}
    state.setdefault("invocations", []).append(
        {"args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    state["created"] = time.time()
    save()
    print(f"teacher {built.path}: held-out accuracy {built.after.accuracy:.3f} "
          f"(restricted, coverage {built.after.coverage:.3f})")
    print(f"cache {cache.key} ({cache.config.train_batches} × {cache.config.batch_size} train "
          f"sequences, top-{cache.config.top_k}); N={args.steps}, {args.factor}N, "
          f"{len(specs)} candidates, θ={theta.label}")
    f = args.factor
    print(f"| init | freeze | error | ρ(N, {f}N) | ρ(N, kl@{f}N) | e at N: min – max (sd) | "
          f"e at {f}N: min – max | distinct | s/call at N |")
    print("|---|---|---|---|---|---|---|---|---|")
    for t in (t for t in table if t.get("settings") == settings):
        print(f"| {t['init']} | {t['freeze']} | {t['error']} | {t['rho']:.3f} | "
              f"{t['rho_vs_long_kl']:.3f} | {t['e_min']:.3f} – {t['e_max']:.3f} "
              f"({t['e_sd']:.3f}) | {t['e_long_min']:.3f} – {t['e_long_max']:.3f} | "
              f"{t['distinct']} | {t['mean_call_s']:.1f} |")
    if "speedup" in state:
        s = state["speedup"]
        print(f"cache speed-up at {s['steps']} steps: mean {s['mean_speedup']:.2f}x, "
              f"total {s['total_speedup']:.2f}x over {len(s['rows'])} candidates")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
