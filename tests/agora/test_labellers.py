"""bortkit.agora.labellers: the embedding labeller, a fine-tuned labeller trained and reloaded,
and notebook 04's hand-off read through `FinetuneResult.load` (falling back to "")."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora import labellers
from bortkit.finetune import EpochPoint, FinetuneConfig, FinetuneResult, classification_metrics
from bortkit.theta import Theta

pytestmark = pytest.mark.usefixtures("one_thread")


def _result(model_dir: str | None) -> FinetuneResult:
    val = classification_metrics([0, 1], [0, 1], n_labels=2)
    return FinetuneResult("minilm", Theta(), 1, "accuracy", val, None,
                          (EpochPoint(1, 1, 0.5, val),), 1.0, 2, 1, 1, ("neg", "pos"), (0, 1),
                          model_dir)


def test_embedding_labeller(tiny, sentences):
    _, _, emb = tiny
    texts, labels = sentences
    lab = labellers.EmbeddingLabeller(emb, texts, labels, C=100.0)
    y, conf = lab.label(texts)
    assert y.shape == (6,) and ((conf >= 0.5) & (conf <= 1.0)).all()
    assert lab.label([])[0].shape == (0,)
    with pytest.raises(ValueError, match="equal length"):
        labellers.EmbeddingLabeller(emb, texts, labels[:3])


def test_trained_labeller_labels_and_is_reused(tmp_path, task_data, tiny_spec, sentences):
    spec = tiny_spec(max_position_embeddings=64)
    config = FinetuneConfig(epochs=1, max_length=32, patience=None)
    out = labellers.train_labeller(task_data, tmp_path / "lab", model_source=spec,
                                   config=config)
    assert FinetuneResult.load(out).model_dir == str(out.resolve())
    stamp = (out / FinetuneResult.file_name).stat().st_mtime_ns
    assert labellers.train_labeller(task_data, out, model_source=spec) == out  # reused
    assert (out / FinetuneResult.file_name).stat().st_mtime_ns == stamp
    y, conf = labellers.TextLabeller(out, max_length=32).label(sentences[0])
    assert y.shape == (6,) and set(y) <= {0, 1} and ((conf >= 0.5) & (conf <= 1)).all()
    assert labellers.TextLabeller(out).label([])[0].shape == (0,)


def test_text_labeller_validation(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        labellers.TextLabeller(tmp_path)
    with pytest.raises(ValueError, match="tokenizer is required"):
        labellers.TextLabeller(np.zeros(1))


def test_upstream_labeller_reads_the_handed_on_result(tmp_path, monkeypatch):
    assert labellers.upstream_labeller("") == ""
    assert labellers.upstream_labeller(tmp_path / "missing") == ""
    model = tmp_path / "models" / "minilm"
    _result(str(model)).save(tmp_path)
    assert labellers.upstream_labeller(tmp_path) == ""  # recorded but not there
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    assert labellers.upstream_labeller(tmp_path) == str(model)
    # a relative model_dir written from another working directory is found under the folder
    _result("artifacts/04_finetune/models/minilm").save(tmp_path)
    monkeypatch.chdir(tmp_path / "models")
    assert labellers.upstream_labeller(tmp_path) == str(model)
