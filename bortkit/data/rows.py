"""Row-by-row checks of a user's table, shared by every layout `bortkit.data.userfiles` reads.

`check_rows` takes one split's DataFrame (its index names each row's place in the file, see
`bortkit.data.readers`) and returns its `Rows`: the cleaned texts (and pairs), the raw labels and
their places, with empty texts dropped and repeated texts removed (first copy kept), each
counted. `normalise_labels` makes the labels of all splits names or integer ids,
`label_names_for` / `label_ids` give the ClassLabel mapping, `check_classes` enforces two
classes and the per-class minimum of the split, and `to_labelled_dataset` builds the
`datasets.Dataset`. Every error names the split's file and the first bad row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from bortkit.data.readers import is_missing
from bortkit.data.tables import clean_text

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import pandas as pd

logger = logging.getLogger(__name__)

_INT = re.compile(r"^\s*-?\d+\s*$")


@dataclass
class Rows:
    """One split's rows after checking: texts, pairs, raw labels, their places; counts."""

    where: str
    label_column: str
    text: list[str]
    pair: list[str] | None
    labels: list[Any]
    places: list[str]
    n_rows: int
    n_empty: int = 0
    n_duplicates: int = 0
    n_conflicting: int = 0


def _columns(df: pd.DataFrame, where: str, text_column: str, label_column: str,
             text_pair_column: str | None) -> None:
    wanted = [c for c in (text_column, label_column, text_pair_column) if c is not None]
    missing = [c for c in wanted if c not in df.columns]
    if not missing:
        return
    what = f"column {missing[0]!r}" if len(missing) == 1 else f"columns {missing}"
    hint = ""
    if len(df.columns) == 1 and any(s in str(df.columns[0]) for s in ("\t", ";", "|")):
        hint = " (one column only: is the file separated by tabs or semicolons? name a " \
               "tab-separated file .tsv)"
    raise ValueError(f"{where}: missing {what}; available: {list(map(str, df.columns))}{hint}. "
                     "Name the columns with --text-column / --label-column / "
                     "--text-pair-column (text_column= ... in Python)")


def _texts(df: pd.DataFrame, column: str, where: str) -> list[str]:
    """The column's cleaned texts ("" for an empty cell); a non-text value is an error."""
    values = df[column].tolist()
    bad = [i for i, v in enumerate(values) if not is_missing(v) and not isinstance(v, str)]
    if bad:
        i = bad[0]
        raise ValueError(
            f"{where}: column {column!r} has {len(bad)} non-text value(s) (first at "
            f"{df.index[i]}: {values[i]!r}); every text must be a string (in JSON, in quotes)"
        )
    return ["" if is_missing(v) else clean_text(v) for v in values]


def check_rows(df: pd.DataFrame, where: str, *, text_column: str, label_column: str,
                 text_pair_column: str | None) -> Rows:
    _columns(df, where, text_column, label_column, text_pair_column)
    text = _texts(df, text_column, where)
    pair = None if text_pair_column is None else _texts(df, text_pair_column, where)
    places = [str(p) for p in df.index]
    labels = df[label_column].tolist()
    keep = [i for i in range(len(text)) if text[i] and (pair is None or pair[i])]
    n_empty = len(text) - len(keep)
    if n_empty:
        kept = set(keep)
        first = [places[i] for i in range(len(text)) if i not in kept][:3]
        logger.warning("%s: dropped %d row(s) with an empty text (e.g. %s)", where, n_empty,
                       ", ".join(first))
    if not keep:
        raise ValueError(f"{where}: no examples: all {len(text)} row(s) have an empty text in "
                         f"column {text_column!r}" + (f" or {text_pair_column!r}"
                                                      if text_pair_column else ""))
    missing = [places[i] for i in keep if is_missing(labels[i])]
    if missing:
        raise ValueError(f"{where}: {len(missing)} missing label(s) in column {label_column!r} "
                         f"(first at {missing[0]}); give every row a label or delete it")
    split = Rows(where, label_column, [text[i] for i in keep],
                   None if pair is None else [pair[i] for i in keep],
                   [labels[i] for i in keep], [places[i] for i in keep], len(text), n_empty)
    return _dedupe(split)


def _dedupe(s: Rows) -> Rows:
    """Drop a text (and pair) seen earlier in the split; count those with another label."""
    first: dict[Any, int] = {}
    keep = []
    for i, t in enumerate(s.text):
        key = t if s.pair is None else (t, s.pair[i])
        if key in first:
            s.n_duplicates += 1
            s.n_conflicting += str(s.labels[first[key]]) != str(s.labels[i])
        else:
            first[key] = i
            keep.append(i)
    if s.n_duplicates:
        logger.warning("%s: dropped %d repeated text(s) (first copy kept; %d of them had "
                       "another label)", s.where, s.n_duplicates, s.n_conflicting)
        s.text = [s.text[i] for i in keep]
        s.pair = None if s.pair is None else [s.pair[i] for i in keep]
        s.labels = [s.labels[i] for i in keep]
        s.places = [s.places[i] for i in keep]
    return s


def normalise_labels(splits: Sequence[Rows]) -> None:
    """Labels become all `str` names or all `int` ids (CSV "0"/"1" cells become ints)."""
    for s in splits:
        out = []
        for v, place in zip(s.labels, s.places):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise ValueError(f"{s.where}: label {v!r} at {place} is not a class; labels "
                                 "must be names or integer ids")
            if isinstance(v, float):
                if not v.is_integer():
                    raise ValueError(f"{s.where}: label {v!r} at {place} is not a class; "
                                     "labels must be names or integer ids")
                v = int(v)
            out.append(v.strip() if isinstance(v, str) else v)
        s.labels = out
    every = [(v, s, p) for s in splits for v, p in zip(s.labels, s.places)]
    if all(isinstance(v, str) for v, _, _ in every) and all(_INT.match(v) for v, _, _ in every):
        for s in splits:
            s.labels = [int(v) for v in s.labels]
        every = [(int(v), s, p) for v, s, p in every]
    kinds = {type(v) for v, _, _ in every}
    if len(kinds) > 1:
        name = next((v, s, p) for v, s, p in every if isinstance(v, str))
        num = next((v, s, p) for v, s, p in every if isinstance(v, int))
        other = num[2] if num[1] is name[1] else f"{num[2]} of {num[1].where}"
        raise ValueError(f"{name[1].where}: labels mix names and integer ids ({name[0]!r} at "
                         f"{name[2]}, {num[0]!r} at {other}); use one kind")
    for v, s, p in every:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"{s.where}: integer label {v} at {p}; integer labels are class "
                             "ids and must be >= 0")


def label_names_for(train: Rows, given: Sequence[str] | None) -> tuple[str, ...]:
    if given is not None:
        names = tuple(str(n) for n in given)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"label_names={list(names)}: give at least two distinct names")
        return names
    if all(isinstance(v, str) for v in train.labels):
        return tuple(sorted(set(train.labels)))
    return tuple(str(i) for i in range(max(train.labels) + 1))


def label_ids(s: Rows, names: tuple[str, ...]) -> list[int]:
    index = {n: i for i, n in enumerate(names)}
    out, bad = [], []
    for v, place in zip(s.labels, s.places):
        if isinstance(v, str) and v in index:
            out.append(index[v])
        elif isinstance(v, int) and 0 <= v < len(names):
            out.append(v)
        else:
            bad.append((v, place))
    if bad:
        raise ValueError(f"{s.where}: {len(bad)} label(s) outside the label set {list(names)} "
                         f"(e.g. {bad[0][0]!r} at {bad[0][1]}); fix those rows or give "
                         "label_names")
    return out


def check_classes(s: Rows, ids: list[int], names: tuple[str, ...], need: int,
                   cut: str) -> None:
    counts = {i: ids.count(i) for i in sorted(set(ids))}
    dropped = (f" (after dropping {s.n_empty} empty and {s.n_duplicates} repeated texts)"
               if s.n_empty or s.n_duplicates else "")
    if len(counts) < 2:
        only = names[next(iter(counts))]
        raise ValueError(f"{s.where}: every example has the label {only!r} ({len(ids)} rows)"
                         f"{dropped}; a classification task needs at least two classes"
                         + (f", each with at least {need} examples" if need else "")
                         + f". Is {s.label_column!r} the label column?")
    absent = [n for i, n in enumerate(names) if i not in counts]
    if absent:
        logger.warning("%s: class(es) %s have no examples", s.where, ", ".join(absent[:10]))
    if need:
        small = [f"{names[i]!r} has {n}" for i, n in counts.items() if n < need]
        if small:
            raise ValueError(
                f"{s.where}: too few examples per class for the seeded stratified {cut}: "
                f"{', '.join(small)}{dropped}; every class needs at least {need} so that each "
                "split gets it. Add examples, merge rare classes, or give train/validation/"
                "test files yourself"
            )


def to_labelled_dataset(s: Rows, ids: list[int], names: tuple[str, ...]) -> datasets.Dataset:
    import datasets

    data: dict[str, list[Any]] = {"text": s.text}
    features: dict[str, Any] = {"text": datasets.Value("string")}
    if s.pair is not None:
        data["text_pair"] = s.pair
        features["text_pair"] = datasets.Value("string")
    data["label"] = ids
    features["label"] = datasets.ClassLabel(names=list(names))
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


__all__ = [
    "Rows",
    "check_classes",
    "check_rows",
    "label_ids",
    "label_names_for",
    "normalise_labels",
    "to_labelled_dataset",
]
