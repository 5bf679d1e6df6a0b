"""The one record idiom: frozen dataclasses that round-trip through JSON, atomic files, validators.

Every record that crosses a module boundary subclasses `Record` (after
`transformers.PretrainedConfig.to_dict`/`from_dict`): `to_dict()` turns nested records, tuples,
enums and paths into plain JSON values; `from_dict()` rebuilds them from the field types, so a
record holds records (a `Candidate` holds an `ArchSpec`, not a spec dict). Unknown keys are an
error naming the record, unless the record opts in with ``_unknown_keys = "ignore"`` (for files
written by newer versions). `save`/`load` write and read one record as JSON, atomically.

The validators at the bottom are the shared boundary checks: each raises `ValueError` (or
`TypeError` for a wrong type) naming the parameter and the bad value.

Standard library only: every layer may import this module.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="Record")

_UMASK = os.umask(0)
os.umask(_UMASK)


# ---------------------------------------------------------------------------------------------
# Atomic files


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one, never half.

    The bytes go to a temporary file in the same folder, are fsynced, then renamed over `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(obj: Any) -> Any:
    """Plain JSON values for records, enums, paths and numpy/torch values (non-finite → None)."""
    if isinstance(obj, Record) or (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        return jsonable(obj.to_dict() if hasattr(obj, "to_dict") else dataclasses.asdict(obj))
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return jsonable(obj.to_dict())
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars (before
        return jsonable(obj.tolist())  # .item(), which fails on arrays of more than one value)
    if hasattr(obj, "item") and callable(obj.item):  # other scalars (torch)
        return jsonable(obj.item())
    return obj


def save_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as sorted, indented JSON, atomically (records and numpy values allowed)."""
    return atomic_write_text(path, json.dumps(jsonable(obj), indent=2, sort_keys=True) + "\n")


def load_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing, truncated or non-JSON file is a `ValueError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{path}: not a readable JSON file ({exc}); delete it to rebuild"
        ) from exc


# ---------------------------------------------------------------------------------------------
# The Record idiom


class Record:
    """Mixin for frozen dataclasses that cross module boundaries (see the module docstring)."""

    #: "error" (default): `from_dict` rejects keys that are not fields; "ignore": drops them.
    _unknown_keys: ClassVar[str] = "error"
    #: A stage result's file name inside its run folder: `save(dir)` / `load(dir)` use it, so
    #: downstream stages hand off by folder (`PretrainResult.load(run_dir)`), never by bare name.
    file_name: ClassVar[str | None] = None

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values (nested records become dicts, tuples lists)."""
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[R], data: typing.Mapping[str, Any]) -> R:
        """Rebuild the record from `to_dict()` output, converting nested values by field type."""
        if not isinstance(data, typing.Mapping):
            raise TypeError(f"{cls.__name__}.from_dict needs a mapping, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        # init=False fields are derived in __post_init__: to_dict writes, from_dict recomputes.
        derived = {f.name for f in dataclasses.fields(cls) if not f.init}
        unknown = sorted(set(data) - set(fields) - derived)
        if unknown and cls._unknown_keys != "ignore":
            raise ValueError(
                f"{cls.__name__}.from_dict: unknown keys {unknown}; expected some of "
                f"{sorted(fields)}"
            )
        hints = _type_hints(cls)
        kwargs = {
            name: _decode(hints.get(name, Any), data[name], f"{cls.__name__}.{name}")
            for name in fields
            if name in data
        }
        try:
            return cls(**kwargs)
        except TypeError as exc:
            if "missing" in str(exc):
                raise ValueError(f"{cls.__name__}.from_dict: {exc}") from exc
            raise

    def replace(self: R, **changes: Any) -> R:
        """A copy with some fields changed (validated again by `__post_init__`)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the record as JSON, atomically, to `path` (a folder: to `path / file_name`)."""
        return save_json(self._resolve(path), self.to_dict())

    @classmethod
    def load(cls: type[R], path: str | os.PathLike[str]) -> R:
        """Read a record written by `save` (from a file, or a folder holding `file_name`).

        A missing file is a `FileNotFoundError` and a foreign or damaged one a `ValueError`, each
        naming the file.
        """
        path = cls._resolve(path)
        data = load_json(path)
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{path}: not a {cls.__name__} record ({exc})") from exc


    @classmethod
    def _resolve(cls, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        if cls.file_name and (path.is_dir() or not path.suffix):
            return path / cls.file_name
        return path


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        try:
            _HINTS[cls] = typing.get_type_hints(cls)
        except (NameError, TypeError):  # a hint only importable under TYPE_CHECKING
            _HINTS[cls] = {}
    return _HINTS[cls]


def _encode(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _decode(hint: Any, value: Any, where: str) -> Any:
    """Convert the JSON `value` to the field type `hint` (records, tuples, enums, unions)."""
    if value is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _decode(option, value, where)
            except (TypeError, ValueError):
                continue
        return value
    if isinstance(hint, type) and issubclass(hint, Record):
        return value if isinstance(value, hint) else hint.from_dict(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is Path:
        return Path(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, where) for v in value)
        if args:
            return tuple(_decode(a, v, where) for a, v in zip(args, value))
        return tuple(value)
    if origin is list:
        return [_decode(args[0] if args else Any, v, where) for v in value]
    if origin is dict and isinstance(value, dict):
        vt = args[1] if len(args) == 2 else Any
        return {k: _decode(vt, v, where) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Validators: one clear error naming the parameter and the value


def check_bool(name: str, value: Any) -> bool:
    """`value` must be a real bool (not 1, not "maybe")."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """`value` must be an int (bools refused) and at least `minimum` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_positive_int(name: str, value: Any) -> int:
    """`value` must be an int >= 1."""
    return check_int(name, value, minimum=1)


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` must be a finite real number inside the given (open or closed) bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        raise ValueError(f"{name} must lie in {interval}, got {value:g}")
    return value


def check_positive(name: str, value: Any) -> float:
    """`value` must be a finite number > 0."""
    return check_float(name, value, low=0.0, low_open=True)


def check_probability(name: str, value: Any) -> float:
    """`value` must lie in [0, 1]."""
    return check_float(name, value, low=0.0, high=1.0)


def check_choice(name: str, value: Any, choices: typing.Iterable[Any]) -> Any:
    """`value` must be one of `choices`."""
    options = tuple(choices)
    if value not in options:
        shown = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {shown}; got {value!r}")
    return value


__all__ = [
    "Record",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "check_positive",
    "check_positive_int",
    "check_probability",
    "jsonable",
    "load_json",
    "save_json",
]
