"""bortkit.plots.finetune: each figure's `*_info` record and the figure's data, on results
written by hand (no training)."""

from __future__ import annotations

import pytest

from bortkit.finetune import EpochPoint, FinetuneResult, classification_metrics
from bortkit.plots import finetune as fp
from bortkit.theta import Theta


def _fake(seed: int, val_acc: float) -> FinetuneResult:
    val = classification_metrics([0, 1, 1, 0], [0, 1, 1, 1], n_labels=2, loss=0.6)
    val = val.replace(accuracy=val_acc)
    curve = (EpochPoint(1, 10, 0.7, val), EpochPoint(2, 20, 0.5, val))
    return FinetuneResult(f"m{seed}", Theta(seed=seed), 1, "accuracy", val, val, curve, 1.0, 4,
                          2, 2, ("neg", "pos"), (0, 1, 1, 1))


def test_theta_table_sorted_best_first():
    results = [_fake(0, 0.5), _fake(1, 0.9), _fake(2, 0.7)]
    info = fp.theta_table_info(results)
    assert [row[0] for row in info.rows] == [results[i].theta.label for i in (1, 2, 0)]
    assert info.rows[0][1] == "0.900" and len(info.columns) == len(info.rows[0])
    fig = fp.theta_table_figure(results)
    assert list(fig.data[0].header.values) == list(fp.THETA_COLUMNS)
    assert len(fig.data[0].cells.values[0]) == 3


def test_confusion_info_and_figure():
    result = _fake(0, 0.75)
    info = fp.confusion_info(result)
    assert info.labels == ("neg", "pos") and info.counts == ((1, 1), (0, 2))
    assert sum(map(sum, info.counts)) == result.test.n
    assert all(abs(sum(r) - 1) < 1e-9 for r in info.rates if sum(r))
    fig = fp.confusion_figure(result, split="validation")
    assert fig.data[0].type == "heatmap" and list(fig.data[0].x) == ["neg", "pos"]
    with pytest.raises(ValueError, match="split must be"):
        fp.confusion_info(result, split="train")


def test_comparison_and_curves():
    runs = {"a": _fake(0, 0.75), "b": _fake(1, 0.5)}
    info = fp.comparison_info(runs)
    assert info.models == ("a", "b") and info.values[0] == (0.75, 0.5)
    assert len(fp.comparison_figure(runs).data) == 2
    fig = fp.curves_figure({"a": runs["a"]})
    assert len(fig.data) == 3
    assert list(fig.data[2].y) == list(runs["a"].series("val_accuracy")[1])


def test_comparison_table_one_row_per_model_best_highlighted():
    results = {"student": _fake(0, 0.6), "minilm": _fake(1, 0.8)}
    info = fp.comparison_table_info(results)
    assert [row[0] for row in info.rows] == ["student", "minilm"] and info.best == 1
    assert info.columns == fp.COMPARISON_COLUMNS and len(info.rows[0]) == len(info.columns)
    assert info.rows[0][2] == "1/2"  # best epoch / epochs run
    fig = fp.comparison_table_figure(results)
    assert list(fig.data[0].cells.values[0]) == ["student", "minilm"]
    with pytest.raises(ValueError, match="no results"):
        fp.comparison_table_info({})
