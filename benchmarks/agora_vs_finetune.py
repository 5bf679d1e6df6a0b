"""Agora versus plain fine-tuning in a low-data regime, same Θ and same total training steps.

For each task and seed:
  * student train = `--train-size` examples of the task's train split (seeded), dev =
    `--dev-size` validation examples, test = `--test-size` test examples;
  * labeller = logistic regression on frozen MiniLM sentence embeddings trained on
    `--labeller-size` train examples (a superset of the student's: the labeller is the
    "trained model" Agora assumes; its dev/test accuracy is reported too);
  * learner = `bortkit.agora.learners.HeadLearner` (an MLP head on frozen MiniLM embeddings,
    θ = Theta) — the CPU-sized student; `--learner finetune` fine-tunes the whole MiniLM instead
    (slow);
  * Agora: `loop.augment` with the mask-and-refill sampler (teacher MLM from
    `bortkit.pretrain.teacher.load_teacher`) and the MiniLM cosine band; test accuracy of its
    best model;
  * plain fine-tuning: every θ ∈ Θ on the original train set with epochs scaled so the summed
    optimiser steps equal Agora's; best θ on dev; its test accuracy.

Run (from the checkout):
    .venv/bin/python benchmarks/agora_vs_finetune.py            # rt and sms, seeds 0 1 2
Writes a JSON record and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import bortkit  # noqa: F401 - sets the offline environment before transformers/datasets
from bortkit import embed
from bortkit.agora import torus
from bortkit.agora.experiment import run_text
from bortkit.agora.labellers import EmbeddingLabeller
from bortkit.agora.learners import HeadLearner, finetune_learner, split_xy, test_accuracy
from bortkit.agora.records import AgoraConfig
from bortkit.agora.samplers import MaskRefillSampler
from bortkit.agora.splits import low_data_split
from bortkit.finetune import FinetuneConfig, task_labels
from bortkit.pretrain import teacher
from bortkit.pretrain.teacher import minilm_dir
from bortkit.theta import make_grid, theta_grid


def run_one(task, seed, args, embedder, teacher):
    student, lab_split = low_data_split(
        task, seed=seed, train_size=args.train_size, dev_size=args.dev_size,
        test_size=args.test_size, labeller_size=args.labeller_size)
    names = task_labels(student)
    if args.learner == "head":
        thetas = make_grid(seeds=(0, 1), lrs=tuple(args.lrs), batch_sizes=(16,),
                           warmup_ratios=(0.1,), weight_decays=(0.01,))
        learner = HeadLearner(embedder, n_labels=len(names), epochs=args.epochs)
    else:  # the whole MiniLM is fine-tuned per θ (slow on 2 cores)
        thetas = theta_grid("cpu")[:4]
        learner = finetune_learner(student, minilm_dir(), tokenizer=teacher[1],
                                   config=FinetuneConfig(epochs=args.epochs, patience=None))
    labeller = EmbeddingLabeller(embedder, lab_split["text"], lab_split["label"])
    test_x, test_y = split_xy(student["test"])
    lab_test = float(np.mean(labeller.label(test_x)[0] == test_y))
    mlm, tok = teacher
    sampler = MaskRefillSampler(mlm, tok, embedder=embedder, mask_prob=args.mask_prob,
                                max_tries=args.max_tries, max_length=args.max_length)
    config = AgoraConfig(samples_per_mistake=args.samples_per_mistake, band=tuple(args.band),
                         max_mistakes=args.max_mistakes, replay=args.replay, prune=args.prune)
    t0 = time.perf_counter()
    run = run_text(student, learner=learner, labeller=labeller, sampler=sampler,
                   thetas=thetas, config=config, seed=seed, progress=False)
    t_agora = time.perf_counter() - t0
    # plain fine-tuning: every θ on the original train set, same summed optimiser steps.
    train_x, train_y = split_xy(student["train"])
    dev_x, dev_y = split_xy(student["validation"])
    per_theta = run.n_steps / len(thetas)
    best = (-1.0, None)
    base_steps = 0
    for th in thetas:
        steps_per_epoch = math.ceil(len(train_x) / th.batch_size)
        ep = max(1, round(per_theta / steps_per_epoch))
        base_steps += ep * steps_per_epoch
        m = learner.fit(train_x, train_y, th, seed=seed, epochs=ep)
        acc = float(np.mean(learner.predict(m, dev_x)[0] == dev_y))
        if acc > best[0]:
            best = (acc, m)
    base_test = test_accuracy(learner, best[1], student)
    # reference, not a competitor: the student given the labeller's gold-labelled examples
    # directly (what the labeller's extra data is worth without Agora); head learner only.
    ref_test = None
    if args.learner == "head":
        lab_x, lab_y = split_xy(lab_split)
        ref = (-1.0, None)
        for th in thetas:
            m = learner.fit(lab_x, lab_y, th, seed=seed)
            acc = float(np.mean(learner.predict(m, dev_x)[0] == dev_y))
            ref = max(ref, (acc, m), key=lambda t: t[0])
        ref_test = test_accuracy(learner, ref[1], student)
    r = run.result
    return {
        "task": task, "seed": seed, "agora_test": run.test_accuracy, "plain_test": base_test,
        "agora_dev": r.best_dev_accuracy, "plain_dev": best[0],
        "round0_dev": r.rounds[0].best_dev_accuracy, "labeller_dev": r.labeller_dev_accuracy,
        "labeller_test": lab_test, "gold_reference_test": ref_test,
        "agora_steps": run.n_steps, "plain_steps": base_steps,
        "n_rounds": len(r.rounds), "n_added": sum(x.n_new for x in r.rounds),
        "train_size_final": r.rounds[-1].train_size, "agora_seconds": t_agora,
        "acceptance": getattr(sampler, "last_acceptance_", None),
    }


def torus_table(seeds):
    """The torus toy over seeds and labellers: test accuracy of Agora's best model versus the
    best θ trained on the partial-coverage train set (round 0), same Θ (8 kNN settings)."""
    out = ["| labeller | labeller dev acc | best-of-Θ test acc | Agora test acc | rounds |",
           "|---|---|---|---|---|"]
    for lab, noise in (("knn", 0.0), ("oracle", 0.1), ("oracle", 0.3), ("oracle", 0.45)):
        config = torus.TorusConfig(labeller=lab, noise=noise)
        runs = [torus.run_torus(config, seed=s) for s in seeds]
        a = [r.test_accuracy for r in runs]
        b = [r.baseline_test_accuracy for r in runs]
        la = statistics.mean(r.result.labeller_dev_accuracy for r in runs)
        name = "5-NN on 1000 uniform points" if lab == "knn" else f"rule, {noise:.0%} flipped"
        out.append(f"| {name} | {la:.3f} | {statistics.mean(b):.3f} ± {statistics.stdev(b):.3f} "
                   f"| {statistics.mean(a):.3f} ± {statistics.stdev(a):.3f} | "
                   f"{statistics.mean(len(r.result.rounds) for r in runs):.0f} |")
    return "\n".join(out)


def _table(rows):
    out = ["| task | seeds | plain fine-tuning test acc | Agora test acc | Δ (Agora − plain) | "
           "labeller test acc | student on the labeller's gold data | points added | "
           "steps (each arm) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]

        def ms(key):
            v = [r[key] for r in rs]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            return f"{statistics.mean(v):.3f} ± {sd:.3f}"

        d = [r["agora_test"] - r["plain_test"] for r in rs]
        dsd = statistics.stdev(d) if len(d) > 1 else 0.0
        out.append(f"| {task} | {len(rs)} | {ms('plain_test')} | {ms('agora_test')} | "
                   f"{statistics.mean(d):+.3f} ± {dsd:.3f} | {ms('labeller_test')} | "
                   f"{ms('gold_reference_test') if rs[0]['gold_reference_test'] else '—'} | "
                   f"{statistics.mean(r['n_added'] for r in rs):.0f} | "
                   f"{statistics.mean(r['agora_steps'] for r in rs):.0f} / "
                   f"{statistics.mean(r['plain_steps'] for r in rs):.0f} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=["rt", "sms"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--train-size", type=int, default=200)
    p.add_argument("--dev-size", type=int, default=200)
    p.add_argument("--test-size", type=int, default=500)
    p.add_argument("--labeller-size", type=int, default=1000)
    p.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 3e-3])
    p.add_argument("--learner", default="head", choices=("head", "finetune"))
    p.add_argument("--epochs", type=int, default=20, help="epochs per fit (finetune: use ~3)")
    p.add_argument("--samples-per-mistake", type=int, default=4)
    p.add_argument("--band", nargs=2, type=float, default=[0.8, 0.98])
    p.add_argument("--max-mistakes", type=int, default=40)
    p.add_argument("--max-tries", type=int, default=2)
    p.add_argument("--mask-prob", type=float, default=0.15)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--replay", type=int, default=0)
    p.add_argument("--prune", default="half")
    p.add_argument("--teacher-steps", type=int, default=None,
                   help="teacher MLM adaptation steps (default: bortkit.pretrain.teacher's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/agora_vs_finetune.json")
    p.add_argument("--toy", action="store_true", help="only the torus toy table (seconds)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.toy:
        import warnings

        warnings.simplefilter("ignore", UserWarning)  # the weak labellers warn by design
        print(torus_table(args.seeds))
        return 0
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    config = teacher.TeacherConfig()
    if args.teacher_steps:
        config = config.replace(steps=args.teacher_steps)
    mlm, tok = teacher.load_teacher(config, progress=False)
    embedder = embed.SentenceEmbedder(max_length=args.max_length)
    rows = []
    for task in args.tasks:
        for seed in args.seeds:
            row = run_one(task, seed, args, embedder, (mlm, tok))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    record = {"args": vars(args), "rows": rows, "seconds": time.perf_counter() - t0,
              "python": platform.python_version(), "torch": torch.__version__,
              "threads": args.threads}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(_table(rows))
    print(f"\n{time.perf_counter() - t0:.0f} s total; written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
