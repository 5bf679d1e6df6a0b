"""bortkit.finetune.metrics: accuracy, macro-F1, MCC and the confusion matrix on known
predictions."""

from __future__ import annotations

import math

import pytest

from bortkit.finetune.metrics import METRIC_NAMES, Metrics, classification_metrics


def test_perfect_predictions():
    m = classification_metrics([0, 1, 2, 1], [0, 1, 2, 1], n_labels=3)
    assert (m.accuracy, m.macro_f1, m.mcc, m.n) == (1.0, 1.0, 1.0, 4)
    assert m.confusion == ((1, 0, 0), (0, 2, 0), (0, 0, 1))


def test_known_binary_case_by_hand():
    # gold 1 1 1 0 0 0 ; pred 1 1 0 0 0 1 -> TP=2 FN=1 TN=2 FP=1
    m = classification_metrics([1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1], n_labels=2)
    assert m.accuracy == pytest.approx(4 / 6)
    # F1 of each class is 2/3, so the macro mean is 2/3
    assert m.macro_f1 == pytest.approx(2 / 3)
    # MCC = (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (4 − 1) / 9
    assert m.mcc == pytest.approx(3 / 9)
    assert m.confusion == ((2, 1), (1, 2))


def test_constant_predictor_has_zero_mcc_and_penalised_macro_f1():
    m = classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], n_labels=2)
    assert m.accuracy == 0.75
    assert m.mcc == 0.0
    # class 0: P=3/4 R=1 F1=6/7; class 1: F1=0 -> macro 3/7
    assert m.macro_f1 == pytest.approx(3 / 7)


def test_macro_f1_counts_absent_classes():
    m = classification_metrics([0, 1], [0, 1], n_labels=3)
    assert m.accuracy == 1.0
    assert m.macro_f1 == pytest.approx(2 / 3)
    assert len(m.confusion) == 3


def test_round_trip_and_get():
    m = classification_metrics([0, 1, 1], [0, 1, 0], n_labels=2, loss=0.5)
    assert Metrics.from_dict(m.to_dict()) == m
    assert [m.get(k) for k in METRIC_NAMES] == [m.accuracy, m.macro_f1, m.mcc]
    assert m.get("loss") == 0.5
    no_loss = classification_metrics([0, 1], [0, 1], n_labels=2)
    assert math.isnan(Metrics.from_dict(no_loss.to_dict()).loss)


def test_unknown_metric_name():
    m = classification_metrics([0, 1], [0, 1], n_labels=2)
    with pytest.raises(ValueError, match="unknown metric"):
        m.get("auc")


def test_label_out_of_range():
    with pytest.raises(ValueError, match="labels holds class id 2"):
        classification_metrics([0, 2], [0, 1], n_labels=2)


def test_prediction_out_of_range():
    with pytest.raises(ValueError, match="predictions holds class id -1"):
        classification_metrics([0, 1], [0, -1], n_labels=2)


def test_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        classification_metrics([0, 1, 1], [0, 1], n_labels=2)


def test_empty():
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [], n_labels=2)


def test_bad_n_labels():
    with pytest.raises(ValueError, match="n_labels"):
        classification_metrics([0], [0], n_labels=1)


def test_non_integer_labels():
    with pytest.raises(ValueError, match="integer class ids"):
        classification_metrics([0.5, 1.0], [0, 1], n_labels=2)


def test_two_dimensional_labels():
    with pytest.raises(ValueError, match="1-D"):
        classification_metrics([[0, 1]], [[0, 1]], n_labels=2)
