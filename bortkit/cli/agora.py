"""`bortkit agora ...`: run Agora (text or the torus toy) and write its rounds as JSON + HTML."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agora",
        help="Agora: augment train around dev mistakes, prune Θ, repeat (text or --toy torus)",
        description="Run the Agora loop (bortkit.agora.loop) and write agora_result.json, "
        "accuracy.html and rounds.html (projection per round) into --out.",
    )
    p.add_argument("--toy", action="store_true", help="the 3-D torus toy instead of text")
    p.add_argument("--task", default="rt", help="builtin task (rt, imdb, bbc, tweets, sms)")
    p.add_argument("--learner", default="head", choices=("head", "finetune"),
                   help="head: MLP on frozen MiniLM (fast); finetune: the whole student")
    p.add_argument("--student-dir", default="", help="student checkpoint for --learner finetune")
    p.add_argument("--labeller-dir", default="",
                   help="fine-tuned classifier folder (default: MiniLM embeddings + logistic "
                   "regression on --labeller-size examples)")
    p.add_argument("--train-size", type=int, default=300)
    p.add_argument("--labeller-size", type=int, default=2000)
    p.add_argument("--thetas", type=int, default=4, help="|Θ|")
    p.add_argument("--rounds", type=int, default=0, help="round cap (0: until Θ is empty)")
    p.add_argument("--samples-per-mistake", type=int, default=4)
    p.add_argument("--band", type=float, nargs=2, default=(0.8, 0.98), metavar=("LOW", "HIGH"),
                   help="accepted cosine similarity to the source mistake")
    p.add_argument("--prune", default="half", choices=("half", "longest-run"))
    p.add_argument("--replay", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, same code path")
    p.add_argument("--projection", default="pca", choices=("umap", "pca"),
                   help="2-D projection for rounds.html (umap is slower: numba JIT)")
    p.add_argument("--out", default="artifacts/agora", help="output folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bortkit import embed
    from bortkit.plots import agora as agora_plots
    from bortkit.run import artifacts

    exp = textaug.run_experiment(
        toy=args.toy, task=args.task, seed=args.seed, smoke=args.smoke, learner=args.learner,
        student_dir=args.student_dir, labeller_dir=args.labeller_dir,
        train_size=args.train_size, labeller_size=args.labeller_size, n_thetas=args.thetas,
        rounds=args.rounds, samples_per_mistake=args.samples_per_mistake,
        band=tuple(args.band), prune=args.prune, replay=args.replay, progress=False)
    out = artifacts.run_dir(args.out)
    records.save_json(out / "agora_result.json", exp)
    artifacts.save_figure(agora_plots.accuracy_figure(exp.result), out / "accuracy.html")
    proj = embed.project_rounds(exp.result, exp.dev_points, embed=exp.embedder,
                                projector=embed.Projector(method=args.projection,
                                                          random_state=args.seed))
    artifacts.save_figure(agora_plots.rounds_figure(exp.result, proj), out / "rounds.html")
    summary = {"kind": exp.kind, "accuracy_per_round": exp.result.accuracies,
               "thetas_per_round": [len(r.thetas) for r in exp.result.rounds],
               "n_added": sum(r.n_new for r in exp.result.rounds),
               "labeller_dev_accuracy": exp.result.labeller_dev_accuracy,
               "test_accuracy": exp.test_accuracy,
               "round0_test_accuracy": exp.baseline_test_accuracy, "out": str(Path(out))}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(exp.result.to_frame().to_string(index=False))
    print(f"labeller dev accuracy {summary['labeller_dev_accuracy']:.3f}; test accuracy "
          f"{exp.test_accuracy} (round 0's best θ: {exp.baseline_test_accuracy})")
    print(f"written to {out}")
    return 0
