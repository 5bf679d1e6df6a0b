"""User classification data for `bortkit.data.tasks.load_task`: local files and folders, hub names.

A user task is a CSV/TSV/JSONL/JSON/parquet file, a folder of ``train.*``/``validation.*``/
``test.*`` files (used as given; ``valid``/``dev`` are aliases of validation; a missing
validation or test split is carved from train), or a folder of unsplit files (concatenated,
then split like the builtin tasks), or a hub dataset name (only when online). Columns are
renamed to ``text``, optional ``text_pair``, and a ClassLabel ``label``.

`bortkit.data.tasks.load_task` stays the single entry point; it calls `load_user_task` for
anything that is not a builtin task. Conversion and splitting come from `bortkit.data.tables`
(shared with the builtin tasks); this module never imports `bortkit.data.tasks`. pandas and
datasets are imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from bortkit.data.tables import (
    SPLIT_FRACTIONS,
    SPLITS,
    label_names_of,
    split_dataset,
    to_dataset,
)

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import pandas as pd

FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
_SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation",
                  "dev": "validation", "test": "test"}


def _read_file(path: Path) -> pd.DataFrame:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t")
    if suffix in (".jsonl", ".json"):
        try:
            return pd.read_json(path, lines=suffix == ".jsonl")
        except ValueError:
            return pd.read_json(path, lines=True)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise ValueError(f"unsupported file type {path.suffix!r} for {path}; "
                     f"use one of {', '.join(FILE_SUFFIXES)}")


def _user_frames(path: Path) -> dict[str, pd.DataFrame]:
    """Split name -> frame. A file, a folder of train/validation/test files, or a folder of
    unsplit files (concatenated)."""
    import pandas as pd

    if path.is_file():
        return {"all": _read_file(path)}
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in FILE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no {'/'.join(FILE_SUFFIXES)} files in folder {path}")
    named = {_SPLIT_ALIASES[p.stem.lower()]: p for p in files if p.stem.lower() in _SPLIT_ALIASES}
    if "train" in named:
        return {split: _read_file(p) for split, p in named.items()}
    return {"all": pd.concat([_read_file(p) for p in files], ignore_index=True)}


def _from_frames(frames: dict[str, pd.DataFrame], *, where: str, seed: int, text_column: str,
                 label_column: str, text_pair_column: str | None,
                 label_names: Sequence[str] | None) -> datasets.DatasetDict:
    import datasets

    first = frames.get("train", frames.get("all"))
    assert first is not None
    if label_column not in first.columns:
        raise ValueError(f"{where}: missing column {label_column!r}; "
                         f"available: {list(first.columns)}")
    names = (tuple(str(n) for n in label_names) if label_names is not None
             else label_names_of(first[label_column].dropna().tolist(), where))
    built = {
        s: to_dataset(df, names, text_column=text_column, label_column=label_column,
                       text_pair_column=text_pair_column, where=f"{where} [{s}]")
        for s, df in frames.items()
    }
    if "all" in built:
        return split_dataset(built["all"], seed=seed)
    if "validation" not in built:  # carve validation from train when only train(/test) given
        part = built["train"].train_test_split(test_size=SPLIT_FRACTIONS[1], seed=seed,
                                               stratify_by_column="label")
        built["train"], built["validation"] = part["train"], part["test"]
    if "test" not in built:
        part = built["train"].train_test_split(test_size=SPLIT_FRACTIONS[2], seed=seed,
                                               stratify_by_column="label")
        built["train"], built["test"] = part["train"], part["test"]
    return datasets.DatasetDict({s: built[s] for s in SPLITS})


def _hub_frames(name: str) -> tuple[dict[str, pd.DataFrame], tuple[str, ...] | None]:
    import datasets

    loaded = datasets.load_dataset(name)
    frames, names = {}, None
    for split, ds in loaded.items():
        key = _SPLIT_ALIASES.get(split, split)
        if key in SPLITS:
            frames[key] = ds.to_pandas()
            feat = ds.features.get("label")
            if isinstance(feat, datasets.ClassLabel):
                names = tuple(feat.names)
    if "train" not in frames:
        raise ValueError(f"hub dataset {name!r} has no train split (splits: {list(loaded)})")
    return frames, names


def _is_offline() -> bool:
    return os.environ.get("HF_DATASETS_OFFLINE", "0") not in ("", "0", "false", "False")


def _looks_like_path(key: str) -> bool:
    return Path(key).suffix.lower() in FILE_SUFFIXES or key.startswith((".", "/", "~"))


def is_user_source(name: str | os.PathLike[str]) -> bool:
    """Whether `load_user_task` would try `name`: an existing path, something written as a
    path or data file (it then raises `FileNotFoundError`), or a hub name while online."""
    key = str(name)
    return Path(key).expanduser().exists() or _looks_like_path(key) or not _is_offline()


def load_user_task(
    name: str | os.PathLike[str],
    *,
    seed: int = 0,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> datasets.DatasetDict:
    """A user file/folder or hub dataset as train / validation / test (before subsampling).

    Called by `bortkit.data.tasks.load_task` (the entry point, which validates `seed` and
    subsamples); the arguments mean the same as there.

    Raises:
        FileNotFoundError: `name` looks like a path but does not exist.
        ValueError: `name` is not a path and the hub is offline, or the data is malformed.
    """
    key = str(name)
    kw: dict[str, Any] = dict(seed=seed, text_column=text_column,
                              label_column=label_column, text_pair_column=text_pair_column)
    path = Path(key).expanduser()
    if path.exists():
        dd = _from_frames(_user_frames(path), where=str(path), label_names=label_names, **kw)
    elif _looks_like_path(key):
        raise FileNotFoundError(f"no such data file or folder: {key}")
    elif _is_offline():
        raise ValueError(
            f"no data file or folder named {key!r}; give a path to a "
            f"{'/'.join(FILE_SUFFIXES)} file or folder; hub dataset names need network "
            f"(set BORTKIT_ONLINE=1)"
        )
    else:
        frames, hub_names = _hub_frames(key)
        dd = _from_frames(frames, where=f"hub:{key}", label_names=label_names or hub_names,
                          **kw)
    return dd


__all__ = [
    "FILE_SUFFIXES",
    "is_user_source",
    "load_user_task",
]
