"""`bortkit teacher [--steps N] [--json]`: MLM-adapt the MiniLM teacher (cached) and report
held-out masked-token accuracy before/after and the wall time."""

from __future__ import annotations

import argparse
import json

from bortkit.data.corpus import build_corpus
from bortkit.measure.machine import torch_threads
from bortkit.pretrain.teacher import TeacherConfig, adapt_teacher

_DEFAULT = TeacherConfig()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "teacher",
        help="MLM-adapt the MiniLM teacher (cached) and report held-out accuracy",
        description="Load the shipped MiniLM checkpoint, add an MLM head, adapt all layers on "
        "the pretraining corpus, cache it under the bortkit cache, and report held-out "
        "masked-token accuracy before and after. A cached run is reported, not redone.",
    )
    p.add_argument("--steps", type=int, default=_DEFAULT.steps, help="training steps")
    p.add_argument("--lr", type=float, default=_DEFAULT.lr, help="AdamW learning rate")
    p.add_argument("--seq-len", type=int, default=_DEFAULT.seq_len, help="block length in tokens")
    p.add_argument("--batch-size", type=int, default=_DEFAULT.batch_size, help="blocks per step")
    p.add_argument("--seed", type=int, default=_DEFAULT.seed,
                   help="corpus, masking and order seed")
    p.add_argument("--eval-every", type=int, default=_DEFAULT.eval_every,
                   help="held-out eval interval")
    p.add_argument("--include-imdb", action="store_true",
                   help="add IMDB train-split reviews to the corpus")
    p.add_argument("--checkpoint", default=None,
                   help="a checkpoint folder or hub name (default: the shipped MiniLM)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = TeacherConfig(steps=args.steps, lr=args.lr, seq_len=args.seq_len,
                           batch_size=args.batch_size, seed=args.seed,
                           eval_every=args.eval_every)
    corpus = build_corpus(seed=args.seed, include_imdb=args.include_imdb)
    with torch_threads(args.threads):
        result = adapt_teacher(corpus, config, checkpoint=args.checkpoint,
                               progress=not args.no_progress)
    record = {
        "steps": result.config.steps,
        "accuracy_before": result.before.accuracy,
        "accuracy_after": result.after.accuracy,
        "loss_before": result.before.loss,
        "loss_after": result.after.loss,
        "heldout_masked_tokens": result.after.n_tokens,
        "seconds": result.seconds,
        "n_train_blocks": result.n_train_blocks,
        "n_heldout_blocks": result.n_heldout_blocks,
        "history": [list(h) for h in result.history],
        "key": result.config.key(),
        "path": result.path,
    }
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"teacher {record['key']} ({result.config.steps} steps) at {result.path}")
    print(f"  held-out masked-token accuracy {result.before.accuracy:.2%} -> "
          f"{result.after.accuracy:.2%} (loss {result.before.loss:.3f} -> "
          f"{result.after.loss:.3f}) over {result.after.n_tokens} tokens")
    print(f"  adaptation wall time {result.seconds:.0f} s")
    return 0
