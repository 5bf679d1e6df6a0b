"""argparse ``type=`` functions: every flag is checked where it is read, with one clear line.

Each type turns the command-line string into a value and applies a rule of
`bortkit.run.params` (the rules notebook parameters use, built on the `bortkit.records`
validators). A bad value makes argparse print, and exit with status 2::

    bortkit pretrain: error: argument --steps: must be >= 1, got '-5'
    bortkit pretrain: error: argument --arch: ArchSpec.hidden_size=64 is not divisible by
        num_attention_heads=3 (BERT splits H evenly across heads), got '4,3,64,128'

argparse names the flag; the message says why and repeats the value given.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from bortkit.run import params
from bortkit.utils import resolve_device

DEVICE_HELP = "auto (CUDA when present), cpu or cuda"


def typed(rule: params.Rule, name: str, *, parse: Callable[[str], Any] = str) -> Callable[
        [str], Any]:
    """An argparse type: `parse` the string (int / float / str), then apply `rule`."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError as exc:
            reason = ("must be an integer" if parse is int else "must be a number"
                      if parse is float else params.why(exc))
            raise argparse.ArgumentTypeError(f"{reason}, got {text!r}") from None
        try:
            return rule(value)
        except (TypeError, ValueError, KeyError) as exc:
            raise argparse.ArgumentTypeError(f"{params.why(exc)}, got {text!r}") from None

    convert.__name__ = name  # argparse shows it in its own messages
    return convert


def _size(value: str) -> int | float:
    """A count (an integer >= 1) or a fraction in (0, 1)."""
    try:
        x = float(value)
    except ValueError:
        raise ValueError("must be a count (>= 1) or a fraction in (0, 1)") from None
    if x >= 1:
        if not x.is_integer():
            raise ValueError("must be a whole count (>= 1) or a fraction in (0, 1)")
        return int(x)
    return params.number(0.0, 1.0, low_open=True, high_open=True)(x)


positive_int = typed(params.integer(1), "positive_int", parse=int)
nonnegative_int = typed(params.integer(0), "nonnegative_int", parse=int)
seq_len = typed(params.integer(8), "seq_len", parse=int)
seed = nonnegative_int
positive_float = typed(params.positive, "positive_float", parse=float)
nonnegative_float = typed(params.number(0.0), "nonnegative_float", parse=float)
probability = typed(params.probability, "probability", parse=float)
open_unit = typed(params.number(0.0, 1.0, low_open=True, high_open=True), "open_unit",
                  parse=float)
warmup_ratio = typed(params.number(0.0, 1.0, high_open=True), "warmup_ratio", parse=float)
cosine = typed(params.number(-1.0, 1.0), "cosine", parse=float)
size = typed(lambda x: x, "size", parse=_size)
# The spec flags keep the text (commands parse it where they use it); the check runs here.
arch_spec = typed(lambda v: params.arch_spec(v) and v, "arch_spec")
arch_or_folder = typed(lambda v: params.arch_or_folder(v) and v, "arch_or_folder")
encoding = typed(params.encoding, "encoding")
folder = typed(params.folder, "folder")
nonempty = typed(params.nonempty, "nonempty")
presets = typed(lambda v: params.optional(params.presets)(v) and v, "presets")
device = typed(params.device, "device")
theta_preset = typed(params.theta_preset, "theta_preset")
task = typed(params.task, "task")
space = typed(params.space, "space")


def add_device(parser: argparse.ArgumentParser, *, help_text: str = DEVICE_HELP) -> None:
    """The shared ``--device auto|cpu|cuda`` flag of every command that trains or profiles."""
    parser.add_argument("--device", type=device, default="auto", help=help_text)


def require_device(name: str) -> str:
    """`name`, once a GPU it asks for is known to be visible (call it first in a command).

    The flag's type checks only the spelling; this fails before any work, with
    `resolve_device`'s one-line ``ValueError`` (the CLI prints it and exits 2).
    """
    if name.startswith("cuda"):  # "auto" and "cpu" never fail: no need to import torch
        resolve_device(name)
    return name


__all__ = [
    "DEVICE_HELP",
    "add_device",
    "arch_or_folder",
    "arch_spec",
    "cosine",
    "device",
    "encoding",
    "folder",
    "nonempty",
    "nonnegative_float",
    "nonnegative_int",
    "open_unit",
    "positive_float",
    "positive_int",
    "presets",
    "probability",
    "require_device",
    "seed",
    "seq_len",
    "size",
    "space",
    "task",
    "theta_preset",
    "typed",
    "warmup_ratio",
]
