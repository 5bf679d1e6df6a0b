"""User classification data for `bortkit.data.tasks.load_task`: local files and folders, hub names.

A user task is one CSV / TSV / JSON Lines / JSON / parquet file; a folder of ``train.*`` /
``validation.*`` / ``test.*`` files (used as given; ``valid``/``dev`` are aliases of
validation; a missing validation or test split is carved from train); a folder of unsplit files
(concatenated, then split like the builtin tasks); a folder of class sub-folders of ``.txt``
files (the label is the sub-folder's name); or a hub dataset name (only when online). Files are
read by `bortkit.data.readers` (encodings rule, row-precise parse errors).

Every split is checked the same way (`bortkit.data.rows`), every error naming the file and row (see
docs/your-own-data.md): the text (and text-pair) columns hold strings; rows whose text is empty
are dropped and counted; every row has a label; labels are all names or all integer ids; there
are at least two classes; a repeated text is dropped (first kept) and counted, with how many of
the repeats carried a different label; and each class has enough examples for the seeded,
stratified split (`MIN_PER_CLASS`). What was done is returned as a `UserDataReport` (encodings
used, label mapping names → ids, counts).

`bortkit.data.tasks.load_task` stays the single entry point; this module never imports it.
pandas and datasets are imported lazily.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from bortkit.data.readers import (
    FILE_SUFFIXES,
    check_encoding,
    class_folders,
    read_class_folders,
    read_table,
)
from bortkit.data.rows import (
    check_classes,
    check_rows,
    label_ids,
    label_names_for,
    normalise_labels,
    to_labelled_dataset,
)
from bortkit.data.tables import SPLIT_FRACTIONS, SPLITS, split_dataset
from bortkit.records import Record

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import pandas as pd

logger = logging.getLogger(__name__)

# With k >= 10 examples a class gets >= floor(0.2 k) >= 2 of the 20% held out by the first
# stratified cut and so >= 1 in each of validation and test (sklearn's StratifiedShuffleSplit
# rounds each class's share down, then hands out the remainder). Carving both validation and
# test out of a given train file (two 10% cuts) needs twice that.
MIN_PER_CLASS = 10
MIN_PER_CLASS_TWO_CUTS = 20
_SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation",
                  "dev": "validation", "test": "test"}


@dataclass(frozen=True)
class UserDataReport(Record):
    """What reading a user's data did (shown by ``bortkit data FILE``).

    Attributes:
        source: the file, folder or hub name given.
        encodings: each file read → the encoding used (``binary (parquet)`` for parquet).
        label_mapping: label name → ClassLabel id.
        n_rows: rows read, over all files.
        n_empty: rows dropped because the text (or text pair) was empty.
        n_duplicates: rows dropped because the same text (and pair) came earlier in the split.
        n_conflicting: of those, how many had a different label from the kept copy.
        n_overlap: validation/test texts that also occur in a given train file (kept).
    """

    source: str
    encodings: dict[str, str]
    label_mapping: dict[str, int]
    n_rows: int
    n_empty: int
    n_duplicates: int
    n_conflicting: int
    n_overlap: int = 0


def _frames(path: Path, encoding: str | None) -> tuple[dict[str, tuple[str, pd.DataFrame]],
                                                       dict[str, str]]:
    """split → (where, frame) and file → encoding, for a file or a folder."""
    import pandas as pd

    if path.is_file():
        table = read_table(path, encoding=encoding)
        return {"all": (str(path), table.frame)}, {str(path): table.encoding}
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)
    if not files:
        if class_folders(path):
            frame, used = read_class_folders(path, encoding=encoding)
            return {"all": (str(path), frame)}, used
        raise FileNotFoundError(f"{path}: no {'/'.join(FILE_SUFFIXES)} files and no class "
                                "sub-folders of .txt files in this folder")
    tables = {p: read_table(p, encoding=encoding) for p in files}
    used = {str(p): t.encoding for p, t in tables.items()}
    named = {_SPLIT_ALIASES[p.stem.lower()]: p for p in files if p.stem.lower() in _SPLIT_ALIASES}
    if "train" in named:
        return {split: (str(p), tables[p].frame) for split, p in named.items()}, used
    parts = []
    for p, t in tables.items():  # one table: every place also names its file
        frame = t.frame.copy()
        frame.index = [f"{p.name} {place}" for place in frame.index]
        parts.append(frame)
    return {"all": (str(path), pd.concat(parts))}, used


def build_task(frames: dict[str, tuple[str, pd.DataFrame]], *, source: str,
               encodings: dict[str, str], seed: int, text_column: str, label_column: str,
               text_pair_column: str | None, label_names: Sequence[str] | None
               ) -> tuple[datasets.DatasetDict, UserDataReport]:
    """Check every split (module docstring), then split or carve: (DatasetDict, report)."""
    import datasets

    names_given = [c for c in (text_column, label_column, text_pair_column) if c is not None]
    if len(set(names_given)) != len(names_given):
        raise ValueError(f"text_column={text_column!r}, label_column={label_column!r}, "
                         f"text_pair_column={text_pair_column!r}: each must be a different "
                         "column")
    splits = {k: check_rows(df, where, text_column=text_column, label_column=label_column,
                              text_pair_column=text_pair_column)
              for k, (where, df) in frames.items()}
    normalise_labels(list(splits.values()))
    first = splits.get("train", splits.get("all"))
    if first is None:
        raise ValueError(f"{source}: no train split (splits: {sorted(splits)})")
    names = label_names_for(first, label_names)
    ids = {k: label_ids(s, names) for k, s in splits.items()}
    n_cuts = sum(k not in splits for k in ("validation", "test"))
    if "all" in splits:
        check_classes(first, ids["all"], names, MIN_PER_CLASS, "80/10/10 train/validation/"
                       "test split")
    else:
        need = (0, MIN_PER_CLASS, MIN_PER_CLASS_TWO_CUTS)[n_cuts]
        missing = " and ".join(k for k in ("validation", "test") if k not in splits)
        check_classes(first, ids["train"], names, need,
                       f"carving of {missing} out of train")
    built = {k: to_labelled_dataset(s, ids[k], names) for k, s in splits.items()}
    if "all" in built:
        dd = split_dataset(built["all"], seed=seed)
    else:
        for missing in ("validation", "test"):  # carve a missing split from train (10% each)
            if missing not in built:
                part = built["train"].train_test_split(
                    test_size=SPLIT_FRACTIONS[SPLITS.index(missing)], seed=seed,
                    stratify_by_column="label")
                built["train"], built[missing] = part["train"], part["test"]
        dd = datasets.DatasetDict({s: built[s] for s in SPLITS})
    overlap = 0
    if "train" in splits:
        seen = set(zip(first.text, first.pair or first.text))
        overlap = sum(1 for k in ("validation", "test") if k in splits
                      for key in zip(splits[k].text, splits[k].pair or splits[k].text)
                      if key in seen)
        if overlap:
            logger.warning("%s: %d validation/test text(s) also occur in train (kept as given)",
                           source, overlap)
    report = UserDataReport(
        source=source, encodings=dict(encodings),
        label_mapping={n: i for i, n in enumerate(names)},
        n_rows=sum(s.n_rows for s in splits.values()),
        n_empty=sum(s.n_empty for s in splits.values()),
        n_duplicates=sum(s.n_duplicates for s in splits.values()),
        n_conflicting=sum(s.n_conflicting for s in splits.values()), n_overlap=overlap)
    return dd, report


def _hub_frames(name: str) -> tuple[dict[str, tuple[str, pd.DataFrame]], tuple[str, ...] | None]:
    import datasets

    loaded = datasets.load_dataset(name)
    frames, names = {}, None
    for split, ds in loaded.items():
        key = _SPLIT_ALIASES.get(split, split)
        if key in SPLITS:
            df = ds.to_pandas()
            df.index = [f"row {i + 1}" for i in range(len(df))]
            frames[key] = (f"hub:{name} [{split}]", df)
            feat = ds.features.get("label")
            if isinstance(feat, datasets.ClassLabel):
                names = tuple(feat.names)
    if "train" not in frames:
        raise ValueError(f"hub dataset {name!r} has no train split (splits: {list(loaded)})")
    return frames, names


def _is_offline() -> bool:
    return os.environ.get("HF_DATASETS_OFFLINE", "0") not in ("", "0", "false", "False")


def looks_like_path(key: str) -> bool:
    """Whether `key` is written as a path or a data file name (not a hub dataset name)."""
    return Path(key).suffix.lower() in FILE_SUFFIXES or key.startswith((".", "/", "~"))


def is_user_source(name: str | os.PathLike[str]) -> bool:
    """Whether `load_user_task` would try `name`: an existing path, something written as a
    path or data file (it then raises `FileNotFoundError`), or a hub name while online."""
    key = str(name)
    return Path(key).expanduser().exists() or looks_like_path(key) or not _is_offline()


def load_user_task(
    name: str | os.PathLike[str],
    *,
    seed: int = 0,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    encoding: str | None = None,
) -> tuple[datasets.DatasetDict, UserDataReport]:
    """A user file/folder or hub dataset as (train / validation / test, what was done).

    Called by `bortkit.data.tasks.load_task` (the entry point, which validates `seed` and
    subsamples); the arguments mean the same as there.

    Raises:
        FileNotFoundError: `name` looks like a path but does not exist.
        ValueError: `name` is not a path and the hub is offline, or the data is malformed (the
            message names the file and row).
    """
    key = str(name)
    check_encoding(encoding)
    kw: dict[str, Any] = dict(seed=seed, text_column=text_column, label_column=label_column,
                              text_pair_column=text_pair_column)
    path = Path(key).expanduser()
    if path.exists():
        frames, used = _frames(path, encoding)
        return build_task(frames, source=str(path), encodings=used, label_names=label_names,
                          **kw)
    if looks_like_path(key):
        raise FileNotFoundError(f"{key}: no such data file or folder")
    if _is_offline():
        raise ValueError(
            f"no data file or folder named {key!r}; give a path to a "
            f"{'/'.join(FILE_SUFFIXES)} file or folder; hub dataset names need network "
            f"(set BORTKIT_ONLINE=1)"
        )
    frames, hub_names = _hub_frames(key)
    return build_task(frames, source=f"hub:{key}", encodings={}, label_names=label_names or
                      hub_names, **kw)


__all__ = [
    "FILE_SUFFIXES",
    "MIN_PER_CLASS",
    "MIN_PER_CLASS_TWO_CUTS",
    "UserDataReport",
    "build_task",
    "is_user_source",
    "load_user_task",
    "looks_like_path",
]
