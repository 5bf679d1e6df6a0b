"""`bortkit agora ...`: run Agora (text or the torus toy) and write its rounds as JSON + HTML."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bortkit import embed
from bortkit.agora import torus
from bortkit.agora.experiment import EMBED_MAX_LENGTH, TextAgoraConfig, run_agora
from bortkit.cli import args as types
from bortkit.plots import agora as agora_plots
from bortkit.records import save_json
from bortkit.run import artifacts


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agora",
        help="Agora: augment train around dev mistakes, prune Θ, repeat (text or --toy torus)",
        description="Run the Agora loop (bortkit.agora.loop) and write agora_result.json, "
        "accuracy.html and rounds.html (projection per round) into --out. Options left out "
        "keep the defaults of TextAgoraConfig / TorusConfig (or of their smoke() with --smoke). "
        "A text run records each finished round in OUT/rounds; rerunning the same command "
        "after a crash resumes after the last finished round.",
    )
    p.add_argument("--toy", action="store_true", help="the 3-D torus toy instead of text")
    p.add_argument("--task", default="rt", type=types.task,
                   help="builtin task (rt, imdb, bbc, tweets, sms) or a data file/folder")
    p.add_argument("--learner", default=None, choices=("student", "head", "finetune"),
                   help="student: the extracted student, fixed steps per fit (default); head: "
                   "MLP on frozen MiniLM (fast); finetune: the HF Trainer on the whole model")
    p.add_argument("--student-dir", default=None, type=types.folder,
                   help="student checkpoint (e.g. notebook 03's model folder; default: a "
                   "random-init D2-A4-H128-I512 student)")
    p.add_argument("--student-steps", type=types.positive_int, default=None,
                   help="optimiser steps per fit of the student learner")
    p.add_argument("--hard-labels", action="store_true",
                   help="no task distillation: labeller-labelled points get its argmax label")
    p.add_argument("--sampler", default=None, choices=("mask-refill", "pool", "both"),
                   help="mask-and-refill with the teacher MLM, the pool of real sentences, or "
                   "both (default)")
    p.add_argument("--pool-size", type=types.positive_int, default=None,
                   help="sentences in the pool sampler's pool")
    p.add_argument("--select-fraction", type=types.warmup_ratio, default=None,
                   help="share of dev held out as dev-B to choose the final round (0: none)")
    p.add_argument("--control", action="store_true",
                   help="also run the control: sample around random train points, as many")
    p.add_argument("--labeller-dir", default=None, type=types.folder,
                   help="fine-tuned classifier folder (default: MiniLM embeddings + logistic "
                   "regression on --labeller-size examples)")
    p.add_argument("--train-size", type=types.positive_int, default=None)
    p.add_argument("--labeller-size", type=types.positive_int, default=None)
    p.add_argument("--thetas", type=types.positive_int, default=None, help="|Θ|")
    p.add_argument("--rounds", type=types.nonnegative_int, default=0,
                   help="round cap (0: until Θ is empty)")
    p.add_argument("--samples-per-mistake", type=types.positive_int, default=None)
    p.add_argument("--band", type=types.cosine, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="accepted cosine similarity to the source mistake")
    p.add_argument("--prune", default=None, choices=("half", "longest-run"))
    p.add_argument("--replay", type=types.nonnegative_int, default=None)
    p.add_argument("--seed", type=types.seed, default=0)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, same code path")
    types.add_device(p, help_text="where the text learners train: " + types.DEVICE_HELP
                     + " (the torus toy runs on numpy)")
    p.add_argument("--projection", default="pca", choices=("umap", "pca"),
                   help="2-D projection for rounds.html (umap is slower: numba JIT)")
    p.add_argument("--out", default="artifacts/agora", type=types.nonempty,
                   help="output folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _given(**options: Any) -> dict[str, Any]:
    """The options the user set (None = left out: the config's own value stays)."""
    return {k: v for k, v in options.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    device = types.require_device(args.device)
    agora_changes = _given(samples_per_mistake=args.samples_per_mistake,
                           band=None if args.band is None else tuple(args.band),
                           prune=args.prune, replay=args.replay)
    agora_changes["max_rounds"] = args.rounds or None
    embedder: Any = None
    if args.toy:
        base = torus.TorusConfig.smoke() if args.smoke else torus.TorusConfig()
        config = base.replace(agora=base.agora.replace(**agora_changes),
                              **_given(n_thetas=args.thetas))
        toy = torus.run_torus(config, seed=args.seed)
        record: Any = toy
        dev_points: Any = toy.data.dev_x
        baseline = toy.baseline_test_accuracy
    else:
        base = TextAgoraConfig.smoke() if args.smoke else TextAgoraConfig()
        student = base.student.replace(**_given(steps=args.student_steps))
        if args.hard_labels:
            student = student.replace(soft_labels=False)
        select = args.select_fraction
        if args.learner == "finetune" and select is None:
            select = 0.0  # the finetune learner predicts only its own dev split
        config = base.replace(
            agora=base.agora.replace(**agora_changes), student=student,
            pool=base.pool.replace(**_given(size=args.pool_size)),
            **_given(learner=args.learner, student_dir=args.student_dir,
                     labeller_dir=args.labeller_dir, train_size=args.train_size,
                     labeller_size=args.labeller_size, n_thetas=args.thetas,
                     sampler=args.sampler, select_fraction=select,
                     control=args.control or None)).with_device(device)
        embedder = embed.SentenceEmbedder(max_length=EMBED_MAX_LENGTH)
        # finished rounds are kept in OUT/rounds: rerunning the same command resumes there
        record = run_agora(args.task, config, seed=args.seed, embedder=embedder, progress=False,
                           checkpoint_dir=artifacts.run_dir(args.out) / "rounds")
        dev_points = list(record.dev_texts)
        baseline = record.baseline_test_accuracy
    result = record.result
    control = getattr(record, "control", None)
    out = artifacts.run_dir(args.out)
    save_json(out / "agora_result.json", record)
    artifacts.save_figure(agora_plots.accuracy_figure(result), out / "accuracy.html")
    proj = embed.project_rounds(result, dev_points, embed=embedder,
                                projector=embed.Projector(method=args.projection,
                                                          random_state=args.seed),
                                control=control,
                                train_points=list(getattr(record, "train_texts", ())) or None)
    artifacts.save_figure(agora_plots.rounds_figure(result, proj, control=control),
                          out / "rounds.html")
    summary = {"kind": "torus" if args.toy else "text", "accuracy_per_round": result.accuracies,
               "thetas_per_round": [len(r.thetas) for r in result.rounds],
               "n_added": sum(r.n_new for r in result.rounds),
               "labeller_dev_accuracy": result.labeller_dev_accuracy,
               "test_accuracy": record.test_accuracy, "round0_test_accuracy": baseline,
               "control_test_accuracy": getattr(record, "control_test_accuracy", None),
               "out": str(Path(out))}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(result.to_frame().to_string(index=False))
    print(f"labeller dev accuracy {summary['labeller_dev_accuracy']:.3f}; test accuracy "
          f"{record.test_accuracy} (round 0's best θ: {baseline}; control: "
          f"{summary['control_test_accuracy']})")
    print(f"written to {out}")
    return 0


__all__ = ["register", "run"]
