"""bortkit.agora.learners: the head learner fits, is seeded and counts its steps; the finetune
learner fine-tunes a tiny random student per θ and predicts dev from the fit itself."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora import learners
from bortkit.finetune import FinetuneConfig
from bortkit.theta import Theta, make_grid

pytestmark = pytest.mark.usefixtures("one_thread")


def test_head_learner_fits_and_is_seeded(tiny, sentences):
    _, _, emb = tiny
    texts, labels = sentences
    learner = learners.HeadLearner(emb, n_labels=2, epochs=20)
    th = Theta(seed=0, lr=1e-2, batch_size=2, warmup_ratio=0.0)
    m = learner.fit(texts, np.array(labels), th, seed=0)
    pred, probs = learner.predict(m, texts)
    assert probs.shape == (6, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (pred == labels).mean() >= 5 / 6  # memorises 6 points
    m2 = learner.fit(texts, np.array(labels), th, seed=0)
    np.testing.assert_allclose(learner.predict(m2, texts)[1], probs, atol=1e-6)
    assert learner.n_steps_ == 2 * 20 * 3


def test_head_learner_validation(tiny):
    with pytest.raises(ValueError, match="epochs"):
        learners.HeadLearner(tiny[2], n_labels=2, epochs=0)


def test_split_xy_and_task_dataset(sentences):
    texts, labels = sentences
    ds = learners.task_dataset(texts, labels, ["neg", "pos"])
    x, y = learners.split_xy(ds)
    assert x == texts and y.tolist() == labels and ds.features["label"].names == ["neg", "pos"]


@pytest.mark.slow
def test_finetune_learner_on_a_tiny_random_student(tiny, task_data, tiny_spec):
    tok, _, _ = tiny
    texts, labels = learners.split_xy(task_data["validation"])
    spec = tiny_spec(num_hidden_layers=1, max_position_embeddings=64)
    config = FinetuneConfig(epochs=1, max_length=32, patience=None)
    learner = learners.finetune_learner(task_data, spec, config=config, tokenizer=tok)
    fitted = learner.fit(texts[:4], labels[:4], make_grid(lrs=(1e-3,))[0], seed=0)
    pred, probs = learner.predict(fitted, texts)
    assert pred.shape == (6,) and probs.shape == (6, 2)
    assert learners.test_accuracy(learner, fitted, task_data) == fitted.test.get("accuracy")
    assert learner.n_steps_ == 1  # 1 epoch of 4 texts at batch size 16
    with pytest.raises(ValueError, match="exported"):
        learner.predict(fitted, ["not a dev text"])
