"""`bortkit finetune --task rt --model DIR --out DIR`: fine-tune a classifier from the CLI.

Writes ``OUT/model`` (the best model: `AutoModelForSequenceClassification`-loadable, with its
tokenizer and `finetune_result.json`) and ``OUT/results.json`` (one record per θ).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from bortkit import data
from bortkit.arch import parse_spec
from bortkit.cli import args as types
from bortkit.finetune import (
    FinetuneConfig,
    best_result,
    finetune,
    quiet_progress,
    resolve_checkpoint,
    run_grid,
)
from bortkit.pretrain.teacher import minilm_dir
from bortkit.records import save_json
from bortkit.run import artifacts
from bortkit.theta import Theta, theta_grid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a sequence classifier (Bort's head) on a task",
        description="Fine-tune a checkpoint (or a random-init shape) on a bortkit.data.tasks "
        "task, one model per θ; evaluate on validation each epoch, keep the best epoch, score "
        "test.",
    )
    p.add_argument("--task", required=True, type=types.task,
                   help="builtin task (rt, imdb, bbc, tweets, sms) "
                   "or a data file/folder (see bortkit.data.tasks.load_task)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="checkpoint folder (or notebook 03's output folder), or "
                     "'minilm' for the shipped MiniLM")
    src.add_argument("--spec", type=types.arch_spec,
                     help="random initialisation of this shape: preset or D,A,H,I[,V]")
    p.add_argument("--out", required=True, type=types.nonempty,
                   help="output folder (model/, results.json)")
    p.add_argument("--epochs", type=types.positive_int, default=3)
    p.add_argument("--max-length", type=types.seq_len, default=64,
                   help="truncation length in tokens")
    p.add_argument("--train-size", type=types.positive_int, default=None,
                   help="subsample train to N examples")
    p.add_argument("--eval-size", type=types.positive_int, default=None,
                   help="cap validation and test to N examples each")
    p.add_argument("--encoding", type=types.encoding, default=None,
                   help="a data file's encoding (default: detected; see docs/your-own-data.md)")
    p.add_argument("--data-seed", type=types.seed, default=0,
                   help="seed of the split and subsample")
    p.add_argument("--theta", type=types.theta_preset, default=None,
                   help="a Θ preset (bort, cpu, smoke): one run per θ; else the single θ below")
    p.add_argument("--seed", type=types.seed, default=0)
    p.add_argument("--lr", type=types.positive_float, default=5e-5)
    p.add_argument("--weight-decay", type=types.nonnegative_float, default=0.0)
    p.add_argument("--warmup-ratio", type=types.warmup_ratio, default=0.1)
    p.add_argument("--batch-size", type=types.positive_int, default=16)
    p.add_argument("--patience", type=types.positive_int, default=2,
                   help="early-stopping patience (epochs)")
    p.add_argument("--metric", default="accuracy", choices=("accuracy", "macro_f1", "mcc"))
    p.add_argument("--threads", type=types.nonnegative_int, default=0,
                   help="torch threads (0 = torch default)")
    types.add_device(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with quiet_progress(not args.no_progress):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    device = types.require_device(args.device)
    source: Any
    if args.spec:
        source = parse_spec(args.spec)
    elif args.model == "minilm":
        source = minilm_dir()
    else:
        source = resolve_checkpoint(args.model)
        if source is None:
            raise FileNotFoundError(f"--model {args.model!r}: no config.json in it or in its "
                                    "model/ subfolder")
    task = data.load_task(args.task, seed=args.data_seed, train_size=args.train_size,
                          eval_size=args.eval_size, encoding=args.encoding)
    out = artifacts.run_dir(args.out)
    config = FinetuneConfig(epochs=args.epochs, max_length=args.max_length,
                            patience=args.patience, metric=args.metric,
                            threads=args.threads or None, device=device)
    progress = not args.no_progress
    if args.theta:
        results = run_grid(source, task, theta_grid(args.theta), config=config,
                           output_dir=out / "grid", progress=progress)
        best = best_result(results)
        shutil.rmtree(out / "model", ignore_errors=True)
        shutil.move(str(best.model_dir), out / "model")
        shutil.rmtree(out / "grid", ignore_errors=True)
        moved = best.replace(model_dir=str((out / "model").resolve()))
        moved.save(out / "model")
        results = [moved if r is best else r for r in results]
        best = moved
    else:
        theta = Theta(seed=args.seed, lr=args.lr, weight_decay=args.weight_decay,
                      warmup_ratio=args.warmup_ratio, batch_size=args.batch_size)
        results = [finetune(source, task, theta=theta, config=config, output_dir=out / "model",
                            progress=progress)]
        best = results[0]
    save_json(out / "results.json", results)
    for r in results:
        mark = "*" if r is best else " "
        test = "" if r.test is None else (f"  test acc {r.test.accuracy:.4f} "
                                          f"F1 {r.test.macro_f1:.4f}")
        print(f"{mark} {r.theta.label}: val acc {r.val.accuracy:.4f} F1 {r.val.macro_f1:.4f}"
              f"{test}  (best epoch {r.best_epoch}/{r.epochs_run}, {r.seconds:.1f} s)")
    print(f"best model: {Path(out / 'model')}  ({len(results)} θ, train size {best.train_size})")
    return 0


__all__ = ["register", "run"]
