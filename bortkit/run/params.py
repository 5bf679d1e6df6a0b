"""Boundary checks of every notebook parameter (and the value rules the CLI's flags share).

Each notebook's setup cell starts with ``params.check("03_pretrain", globals())``: every
parameter of its parameters cell is checked for its declared type and its range, so a bad value
given to papermill (``-p epsilon 2``, ``-p smoke maybe``, ``-p arch 4,3,64,128``, ``-p steps
-5``) fails in the first cell with one line, ``ValueError: <name>=<value>: <why>``, before
anything deep in torch or pandas can trip on it.

`NOTEBOOK_PARAMS` holds, per notebook, each parameter's declared type and rule; a test checks
that it names exactly the parameters (and types) each notebook's parameters cell declares. The
rules are plain functions `value -> value` that raise `ValueError` / `TypeError`; they reuse the
`bortkit.records` validators, and `bortkit.cli.args` turns the same rules into argparse types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from bortkit.arch import PRESETS, get_preset, parse_spec
from bortkit.data.readers import check_encoding
from bortkit.data.tasks import check_task_name
from bortkit.records import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_probability,
)
from bortkit.search.space import SearchSpace
from bortkit.theta import THETA_PRESETS
from bortkit.utils import DEVICES

Rule = Callable[[Any], Any]
_GOT = re.compile(r"[,;] got .*$", re.DOTALL)


def why(exc: BaseException) -> str:
    """The reason in a validator's message, without the parameter's name or the value.

    The `bortkit.records` validators say ``"<name> must ..., got <value>"``; rules call them
    with an empty name, so the reason is what is left once the ``got`` part is cut.
    """
    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).strip()
    return _GOT.sub("", text).strip() or text


# ---------------------------------------------------------------------------------------------
# Rules: value -> value, or ValueError / TypeError with the reason


def integer(minimum: int | None = None) -> Rule:
    """An int (bools refused), at least `minimum`."""
    return lambda v: check_int("", v, minimum=minimum)


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Rule:
    """A finite real number inside the (open or closed) bounds."""
    return lambda v: check_float("", v, low=low, high=high, low_open=low_open,
                                 high_open=high_open)


def positive(v: Any) -> float:
    """A finite number > 0."""
    return check_positive("", v)


def probability(v: Any) -> float:
    """A number in [0, 1]."""
    return check_probability("", v)


def choice(*options: str) -> Rule:
    """One of `options`."""
    return lambda v: check_choice("", v, options)


def text(v: Any) -> str:
    """Any string."""
    if not isinstance(v, str):
        raise TypeError(f"must be a string, got {v!r}")
    return v


def nonempty(v: Any) -> str:
    """A non-blank string."""
    if not text(v).strip():
        raise ValueError("must not be empty")
    return v


def arch_spec(v: Any) -> Any:
    """A preset name or ``D,A,H,I[,V]`` (an `ArchSpec`)."""
    try:
        return parse_spec(text(v))
    except ValueError as exc:  # parse_spec names the spec already; keep only the reason
        raise ValueError(str(exc).replace(f"architecture spec {v.strip()!r}", "").strip(" :")
                         or str(exc)) from None


def optional(rule: Rule) -> Rule:
    """"" (meaning: not given), or a value `rule` accepts."""
    return lambda v: v if isinstance(v, str) and not v.strip() else rule(v)


def folder(v: Any) -> str:
    """An existing folder."""
    if not Path(text(v)).expanduser().is_dir():
        raise ValueError("no such folder")
    return v


def arch_or_folder(v: Any) -> Any:
    """A preset, ``D,A,H,I[,V]``, or an FPTAS output folder (what `resolve_arch` takes)."""
    if isinstance(v, str) and Path(v).expanduser().is_dir():
        return v
    return arch_spec(v)


def presets(v: Any) -> tuple[str, ...]:
    """Comma-separated preset names (at least one)."""
    names = tuple(n.strip() for n in text(v).split(",") if n.strip())
    if not names:
        raise ValueError(f"give comma-separated presets from: {', '.join(PRESETS)}")
    for name in names:
        get_preset(name)
    return names


def unit_floats(v: Any) -> tuple[float, ...]:
    """Comma-separated numbers, each in (0, 1)."""
    parts = [p.strip() for p in text(v).split(",") if p.strip()]
    if not parts:
        raise ValueError("give comma-separated numbers in (0, 1)")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError("every item must be a number in (0, 1)") from None
    for x in values:
        number(0.0, 1.0, low_open=True, high_open=True)(x)
    return values


def task(v: Any) -> str:
    """A builtin task, a data file or folder (or a hub name while online)."""
    try:
        return check_task_name(text(v), "")
    except ValueError as exc:  # check_task_name says "<parameter>=<value>: <why>"
        raise ValueError(str(exc).removeprefix(f"={v!r}: ")) from None


def space(v: Any) -> str:
    """A search-space name (`SearchSpace.named`)."""
    SearchSpace.named(text(v))
    return v


def device(v: Any) -> str:
    """"auto", "cpu", "cuda" or "cuda:N" (whether a GPU is there is checked where it is used)."""
    if not isinstance(v, str) or not (v in DEVICES or re.fullmatch(r"cuda:\d+", v)):
        raise ValueError(f"must be one of {', '.join(DEVICES)} or cuda:N")
    return v


def encoding(v: Any) -> str | None:
    """A Python codec name."""
    try:
        return check_encoding(v)
    except ValueError as exc:  # check_encoding says "encoding=<value>: <why>"
        raise ValueError(str(exc).removeprefix(f"encoding={v!r}: ")) from None


theta_preset = choice(*THETA_PRESETS)
SEED = integer(0)


# ---------------------------------------------------------------------------------------------
# Every notebook's parameters: declared type and rule


@dataclass(frozen=True)
class Param:
    """A notebook parameter: the type its parameters cell declares, and its rule."""

    type: type
    rule: Rule | None = None


_COMMON = {"output_dir": Param(str, nonempty), "seed": Param(int, SEED), "smoke": Param(bool)}
_STR, _POS, _NONNEG = Param(str, text), Param(int, integer(1)), Param(int, integer(0))
_SEQ = Param(int, integer(8))

NOTEBOOK_PARAMS: dict[str, dict[str, Param]] = {
    "00_tour": {**_COMMON, "epsilons": Param(str, unit_floats), "steps": _POS,
                "torus_train": _POS},
    "01_profile": {**_COMMON, "presets": Param(str, presets), "seq_len": _POS,
                   "batch_size": _POS, "repeats": _POS, "warmup": _NONNEG, "threads": _NONNEG,
                   "gemm_size": _POS, "interleave": Param(bool), "device": Param(str, device)},
    "02_fptas": {**_COMMON, "space": Param(str, space),
                 "epsilon": Param(float, number(0.0, 1.0, low_open=True, high_open=True)),
                 "s": Param(float, positive), "c": Param(float, positive), "steps": _NONNEG,
                 "theta": Param(str, theta_preset),
                 "param_count": Param(str, choice("effective", "total")),
                 "audit_fraction": Param(float, probability),
                 "evaluator": Param(str, choice("surrogate", "synthetic")),
                 "teacher_steps": _NONNEG, "batch_size": _POS,
                 "seq_len": _SEQ, "device": Param(str, device),
                 "executor": Param(str, choice("local", "process", "dask")),
                 "scheduler_address": _STR},
    "03_pretrain": {**_COMMON, "fptas_dir": Param(str, optional(folder)),
                    "fptas_pick": Param(str, choice("budget", "w")),
                    "arch": Param(str, optional(arch_or_folder)),
                    "default_arch": Param(str, arch_spec), "steps": _POS,
                    "teacher_steps": _NONNEG, "batch_size": _POS,
                    "seq_len": _SEQ, "lr": Param(float, positive),
                    "warmup_ratio": Param(float, number(0.0, 1.0, high_open=True)),
                    "weight_decay": Param(float, number(0.0)), "temperature": Param(
                        float, positive), "w_mlm": Param(float, number(0.0)),
                    "w_kd": Param(float, number(0.0)),
                    "init": Param(str, choice("pca", "random")),
                    "compare_inits": Param(bool), "compare_mlm": Param(bool),
                    "eval_every": _NONNEG, "eval_blocks": _POS, "checkpoint_every": _NONNEG,
                    "resume": Param(bool), "threads": _NONNEG, "device": Param(str, device)},
    "04_finetune": {**_COMMON, "task": Param(str, task),
                    "pretrained_dir": Param(str, optional(folder)),
                    "student_spec": Param(str, arch_spec),
                    "theta_preset": Param(str, theta_preset),
                    "compare_preset": Param(str, theta_preset), "epochs": _POS,
                    "patience": _POS, "train_size": _POS, "eval_size": _POS,
                    "max_length": _SEQ, "threads": _NONNEG,
                    "pooling": Param(str, choice("mean", "first")), "by_size": Param(bool),
                    "device": Param(str, device)},
    "05_agora": {**_COMMON, "task": Param(str, task),
                 "learner": Param(str, choice("student", "head", "finetune")),
                 "pretrained_dir": Param(str, optional(folder)),
                 "student_dir": Param(str, optional(folder)),
                 "finetune_dir": Param(str, optional(folder)),
                 "labeller_dir": Param(str, optional(folder)), "train_size": _POS,
                 "labeller_size": _POS, "n_thetas": _POS, "student_steps": _POS,
                 "teacher_steps": _NONNEG,
                 "soft_labels": Param(bool),
                 "sampler": Param(str, choice("mask-refill", "pool", "both")),
                 "pool_size": _POS,
                 "select_fraction": Param(float, number(0.0, 1.0, high_open=True)),
                 "control": Param(bool), "rounds": _NONNEG,
                 "samples_per_mistake": _POS, "max_mistakes": _POS,
                 "band_low": Param(float, number(-1.0, 1.0)),
                 "band_high": Param(float, number(-1.0, 1.0)),
                 "prune": Param(str, choice("half", "longest-run")), "replay": _NONNEG,
                 "projection": Param(str, choice("umap", "pca")), "device": Param(str, device)},
}

_TYPE_CHECKS: dict[type, Rule] = {
    bool: lambda v: check_bool("", v),
    int: integer(),
    float: number(),
    str: text,
}


def check_value(name: str, value: Any, param: Param) -> Any:
    """`value` checked against `param` (type, then rule); else ``ValueError: name=value: why``."""
    try:
        out = _TYPE_CHECKS[param.type](value)
        return out if param.rule is None else param.rule(out)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"{name}={value!r}: {why(exc)}") from None


def check(notebook: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Check every parameter of `notebook` (a stem, e.g. ``"03_pretrain"``) in `namespace`.

    Call it first in a notebook's setup cell with ``globals()``. Cross-parameter rules (a band
    whose low end exceeds its high end) are checked here too.

    Returns:
        name → the checked value (numbers as the declared type).

    Raises:
        ValueError: ``<name>=<value>: <why>`` for the first bad parameter.
    """
    if notebook not in NOTEBOOK_PARAMS:
        raise ValueError(f"no parameter rules for notebook {notebook!r}; known: "
                         f"{', '.join(NOTEBOOK_PARAMS)}")
    out = {}
    for name, param in NOTEBOOK_PARAMS[notebook].items():
        if name not in namespace:
            raise ValueError(f"{name}: missing; the parameters cell of {notebook} defines it")
        out[name] = check_value(name, namespace[name], param)
    if "band_low" in out and out["band_low"] > out["band_high"]:
        raise ValueError(f"band_low={out['band_low']!r}: must not exceed "
                         f"band_high={out['band_high']!r}")
    return out


__all__ = [
    "NOTEBOOK_PARAMS",
    "Param",
    "Rule",
    "arch_or_folder",
    "arch_spec",
    "check",
    "check_value",
    "choice",
    "device",
    "encoding",
    "folder",
    "integer",
    "nonempty",
    "number",
    "optional",
    "positive",
    "presets",
    "probability",
    "space",
    "task",
    "text",
    "unit_floats",
    "why",
]
