"""From a table of texts and labels to a seeded, stratified train / validation / test split.

The shared lower half of `bortkit.data`: the builtin tasks (`bortkit.data.tasks`) and the users'
files (`bortkit.data.userfiles`) share `clean_text`, `split_dataset` (seeded, label-stratified
80/10/10) and `subsample`; `to_dataset` turns a builtin task's DataFrame into a
`datasets.Dataset` with a ClassLabel ``label`` (user files get their row-by-row checks in
`bortkit.data.userfiles`).

pandas and datasets are imported lazily (heavy; `import bortkit.data` stays light).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover - type names only; the modules load lazily
    import datasets
    import pandas as pd

SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # project choice: train / validation / test

_WS = re.compile(r"\s+")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_C1 = re.compile("[\x80-\x9f]")


def _cp1252(match: re.Match[str]) -> str:
    return bytes([ord(match.group())]).decode("cp1252", errors="ignore")


def clean_text(text: str) -> str:
    """Remove HTML line breaks, repair cp1252 punctuation read as latin-1 (IMDB's \\x96 dashes)
    and collapse whitespace."""
    return _WS.sub(" ", _C1.sub(_cp1252, _BR.sub(" ", text))).strip()


def _check_text(df: pd.DataFrame, column: str, where: str) -> None:
    bad = [i for i, v in enumerate(df[column].tolist()) if not isinstance(v, str)]
    if bad:
        i = bad[0]
        raise ValueError(
            f"{where}: column {column!r} has {len(bad)} non-text value(s) "
            f"(first at row {i}: {df[column].iloc[i]!r}); every text must be a string"
        )


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


def to_dataset(df: pd.DataFrame, names: tuple[str, ...], *, text_column: str,
               label_column: str, text_pair_column: str | None, where: str) -> datasets.Dataset:
    """A labelled `datasets.Dataset` (``text``, optional ``text_pair``, ClassLabel ``label``).

    Args:
        df: the table; its text columns must hold strings and its labels lie in `names`.
        names: the label set, in ClassLabel order.
        text_column, label_column, text_pair_column: the table's column names.
        where: names the data in error messages (a file, a split).
    """
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
    """A reproducible label-stratified subsample: `size` examples (int) or a fraction (float).

    Args:
        ds: a labelled dataset.
        size: how many examples (int ≥ 1), a fraction in (0, 1] (float), or None (all).
        seed: seeds the draw.
        name: the parameter's name in error messages.
    """
    if size is None:
        return ds
    # An int or a float means different things here, so the shared check_* validators (one
    # type each) do not fit; the message still names the parameter and the value.
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


__all__ = [
    "SPLITS",
    "SPLIT_FRACTIONS",
    "clean_text",
    "split_dataset",
    "subsample",
    "to_dataset",
]
