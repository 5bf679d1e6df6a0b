"""Classification metrics of one prediction set: accuracy, macro-F1, MCC, confusion matrix.

One record, `Metrics`, is what `bortkit.finetune.engine` reports per split and per epoch, and
what the plots (`bortkit.plots.finetune`) draw. The numbers come from scikit-learn, so they match
what a reader would compute by hand; `tests/finetune/test_metrics.py` checks them on known
predictions.

Conventions (project choices): macro-F1 averages over *all* `n_labels` classes, including a class
that never occurs in the split (its F1 counts as 0, scikit-learn's ``zero_division=0``), so a
model that ignores a class is penalised; MCC is the multi-class Matthews correlation (Gorodkin's
R_K), 0 when all predictions are one class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from bortkit.records import Record, check_int

METRIC_NAMES = ("accuracy", "macro_f1", "mcc")


@dataclass(frozen=True)
class Metrics(Record):
    """Scores of predictions against gold labels on one split.

    Args:
        accuracy: fraction of exact matches, in [0, 1].
        macro_f1: unweighted mean of per-class F1 over all `n_labels` classes, in [0, 1].
        mcc: Matthews correlation coefficient, in [-1, 1].
        n: number of examples scored.
        confusion: ``confusion[i][j]`` = examples of gold class i predicted as j.
        loss: mean cross-entropy when known (NaN otherwise).
    """

    accuracy: float
    macro_f1: float
    mcc: float
    n: int
    confusion: tuple[tuple[int, ...], ...] = field(default=())
    loss: float = math.nan

    def __post_init__(self) -> None:
        # JSON has no NaN: `save` writes an unknown loss as null, and reading it back gives NaN.
        if self.loss is None:
            object.__setattr__(self, "loss", math.nan)

    @property
    def n_labels(self) -> int:
        return len(self.confusion)

    def get(self, name: str) -> float:
        """The metric called `name` (one of `METRIC_NAMES` or ``"loss"``)."""
        if name not in (*METRIC_NAMES, "loss"):
            raise ValueError(f"unknown metric {name!r}; valid: {', '.join(METRIC_NAMES)}, loss")
        return float(getattr(self, name))


def _as_int_labels(values: Sequence[int] | Any, name: str, n_labels: int) -> Any:
    import numpy as np

    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of class ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n_labels)] if arr.size else arr
    if bad.size:
        raise ValueError(
            f"{name} holds class id {int(bad[0])} outside [0, {n_labels}) (n_labels={n_labels})"
        )
    return arr


def classification_metrics(
    labels: Sequence[int] | Any,
    predictions: Sequence[int] | Any,
    *,
    n_labels: int,
    loss: float = math.nan,
) -> Metrics:
    """Accuracy, macro-F1, MCC and confusion matrix of `predictions` against gold `labels`.

    Args:
        labels: gold class ids, shape (n,).
        predictions: predicted class ids, shape (n,).
        n_labels: number of classes; every id must lie in [0, n_labels).
        loss: mean loss to carry along in the record (optional).

    Returns:
        A `Metrics` record.

    Raises:
        ValueError: for mismatched lengths, an empty set, ids out of range or `n_labels` < 2.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, matthews_corrcoef

    check_int("n_labels", n_labels, minimum=2)
    y = _as_int_labels(labels, "labels", n_labels)
    p = _as_int_labels(predictions, "predictions", n_labels)
    if len(y) != len(p):
        raise ValueError(f"labels and predictions differ in length: {len(y)} vs {len(p)}")
    if len(y) == 0:
        raise ValueError("labels is empty: cannot score an empty split")
    classes = list(range(n_labels))
    cm = confusion_matrix(y, p, labels=classes)
    return Metrics(
        accuracy=float(accuracy_score(y, p)),
        macro_f1=float(f1_score(y, p, labels=classes, average="macro", zero_division=0)),
        mcc=float(matthews_corrcoef(y, p)),
        n=int(len(y)),
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
        loss=float(loss),
    )


__all__ = ["METRIC_NAMES", "Metrics", "classification_metrics"]
