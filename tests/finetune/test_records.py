"""bortkit.finetune.records: the run config's validation and smoke sizes; records round-trip
through JSON files (NaN losses included) and `FinetuneResult.load(folder)` is the hand-off."""

from __future__ import annotations

import math

import pytest

from bortkit.finetune import (
    EpochPoint,
    FinetuneConfig,
    FinetuneResult,
    Predictions,
    classification_metrics,
)
from bortkit.theta import Theta


def _result(val_acc: float = 0.75, *, model_dir: str | None = None) -> FinetuneResult:
    val = classification_metrics([0, 1, 1, 0], [0, 1, 1, 1], n_labels=2)
    val = val.replace(accuracy=val_acc)
    point = EpochPoint(1, 10, math.nan, val)  # a curve point without a logged train loss
    return FinetuneResult("m", Theta(seed=1), 1, "accuracy", val, None, (point,), 1.0, 4, 2, 1,
                          ("neg", "pos"), (0, 1, 1, 1), model_dir)


def test_config_defaults_and_smoke():
    assert FinetuneConfig() == FinetuneConfig(epochs=3, max_length=64, patience=2,
                                              metric="accuracy", eval_batch_size=64)
    smoke = FinetuneConfig.smoke()
    assert (smoke.epochs, smoke.max_length, smoke.threads) == (2, 24, 1)
    assert FinetuneConfig.smoke(epochs=5).epochs == 5  # the caller's value wins


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=0), "epochs"), (dict(patience=0), "patience"), (dict(metric="auc"), "metric"),
    (dict(max_length=4), "max_length"), (dict(threads=0), "threads"),
    (dict(eval_batch_size=0), "eval_batch_size"), (dict(epochs=1.5), "epochs"),
    (dict(pooling="max"), "pooling"), (dict(schedule="cosine"), "schedule"),
    (dict(device="tpu"), "device"),
])
def test_config_validation(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=f"FinetuneConfig.{match}"):
        FinetuneConfig(**kwargs)


def test_result_round_trips_through_its_file(tmp_path):
    result = _result(model_dir=str(tmp_path))
    path = result.save(tmp_path)
    assert path == tmp_path / "finetune_result.json" == tmp_path / FinetuneResult.file_name
    again = FinetuneResult.load(tmp_path)
    assert again == result and isinstance(again.theta, Theta)
    assert math.isnan(again.curve[0].train_loss) and math.isnan(again.val.loss)
    assert again.test is None and again.stopped_early


def test_load_of_a_folder_without_a_result(tmp_path):
    with pytest.raises(FileNotFoundError, match="finetune_result.json"):
        FinetuneResult.load(tmp_path)


def test_series_and_row():
    result = _result(0.5)
    assert result.series("val_accuracy") == ((10,), (0.5,))
    with pytest.raises(ValueError, match="unknown curve metric"):
        result.series("val_auc")
    row = result.to_row()
    assert row["theta"] == Theta(seed=1).label and row["val_accuracy"] == 0.5
    assert row["test_accuracy"] is None


def test_predictions_round_trip(tmp_path):
    pred = Predictions((1, 0), ((0.2, 0.8), (0.9, 0.1)))
    assert Predictions.load(pred.save(tmp_path / "p.json")) == pred
