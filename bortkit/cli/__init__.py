"""The `bortkit` command line.

Each subcommand lives in its own module `bortkit/cli/<name>.py` exposing
`register(subparsers)`; `register` adds a parser and sets `func=handler(args) -> int`.
`SUBCOMMANDS` lists them explicitly, in the order `bortkit --help` shows.
Every flag is checked where argparse reads it (``type=`` functions of `bortkit.cli.args`):
a bad value exits with status 2 and one line naming the flag and the value. Errors a user can
cause later (missing files, bad data) are raised as `ValueError`, `TypeError` or
`FileNotFoundError` and printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

import bortkit  # noqa: F401 - sets the offline environment before any HF import
from bortkit.cli import (
    agora,
    arch,
    data,
    finetune,
    fptas,
    optuna,
    pipeline,
    pretrain,
    profile,
    run,
    teacher,
)

# Order shown in `bortkit --help`.
SUBCOMMANDS = (arch, profile, data, teacher, fptas, optuna, pretrain, finetune, agora, run,
               pipeline)

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, KeyError)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the flag and the value (no usage dump);
    the exit status stays argparse's 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bortkit",
        description=(
            "Reproduce and explore Bort: OSE by FPTAS, KD pretraining, fine-tuning, Agora."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in SUBCOMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"bortkit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `bortkit ... --json | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"bortkit {args.command}: interrupted", file=sys.stderr)
        return 130


__all__ = ["SUBCOMMANDS", "build_parser", "main"]
