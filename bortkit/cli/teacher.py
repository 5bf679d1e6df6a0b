"""`bortkit teacher [--steps N] [--json]`: build the MLM teacher (cached, resumable) and report
held-out masked-token accuracy over its restricted vocabulary, before/after and along the way."""

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
        help="build the MLM teacher (cached, resumable) and report held-out accuracy",
        description="Load the shipped MiniLM encoder, give it an untied MLM head over the "
        "restricted vocabulary (top corpus tokens), train head and body on the pretraining "
        "corpus with checkpoints (an interrupted build resumes), cache it under the bortkit "
        "cache, and report held-out masked-token accuracy over the restricted targets (with "
        "their coverage). A cached build is reported, not redone.",
    )
    p.add_argument("--steps", type=int, default=_DEFAULT.steps, help="training steps in all")
    p.add_argument("--head-lr", type=float, default=_DEFAULT.head_lr, help="head learning rate")
    p.add_argument("--body-lr", type=float, default=_DEFAULT.body_lr,
                   help="encoder learning rate")
    p.add_argument("--head-only-steps", type=int, default=_DEFAULT.head_only_steps,
                   help="first steps that train only the head")
    p.add_argument("--vocab-size", type=int, default=_DEFAULT.vocab_size_kept,
                   help="corpus tokens the head predicts (plus the specials)")
    p.add_argument("--batch-size", type=int, default=_DEFAULT.batch_size, help="blocks per step")
    p.add_argument("--seed", type=int, default=_DEFAULT.seed,
                   help="corpus, masking and order seed")
    p.add_argument("--eval-every", type=int, default=_DEFAULT.eval_every,
                   help="held-out eval interval")
    p.add_argument("--checkpoint-every", type=int, default=_DEFAULT.checkpoint_every,
                   help="resumable checkpoint interval (0: none)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=_DEFAULT.precision,
                   help="bf16 autocast ('auto': where the hardware has native bf16)")
    p.add_argument("--device", default=_DEFAULT.device, help="auto, cpu or cuda")
    p.add_argument("--include-imdb", action="store_true",
                   help="add IMDB train-split reviews to the corpus")
    p.add_argument("--checkpoint", default=None,
                   help="an encoder folder or hub name (default: the shipped MiniLM)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = TeacherConfig(steps=args.steps, head_lr=args.head_lr, body_lr=args.body_lr,
                           head_only_steps=args.head_only_steps,
                           vocab_size_kept=args.vocab_size, batch_size=args.batch_size,
                           seed=args.seed, eval_every=args.eval_every,
                           checkpoint_every=args.checkpoint_every, precision=args.precision,
                           device=args.device)
    corpus = build_corpus(seed=args.seed, include_imdb=args.include_imdb)
    with torch_threads(args.threads):
        result = adapt_teacher(corpus, config, checkpoint=args.checkpoint,
                               progress=not args.no_progress)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    before, after = result.before, result.after
    print(f"teacher {result.config.key()} ({result.config.steps} steps) at {result.path}")
    print(f"  held-out masked-token accuracy over the restricted vocabulary "
          f"({result.vocab_size} tokens, {after.coverage:.1%} of masked positions): "
          f"{before.accuracy:.2%} -> {after.accuracy:.2%} (loss {before.loss:.3f} -> "
          f"{after.loss:.3f}) over {after.n_tokens} tokens")
    for ev in result.history[:-1]:
        print(f"  step {ev.step:>5}: accuracy {ev.accuracy:.2%}  loss {ev.loss:.3f}  "
              f"{ev.seconds:.0f} s")
    print(f"  build wall time {result.seconds:.0f} s"
          + (f" (resumed at steps {list(result.resumed_from)})" if result.resumed_from else ""))
    return 0
