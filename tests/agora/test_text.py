"""bortkit.agora.text: mask-and-refill sampler, learners and labellers, on tiny random models."""

from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bortkit.agora import (
    loop,  # noqa: E402
)
from bortkit.embed import hidden_state_embeddings  # noqa: E402

TEXTS = [
    "a gripping , beautifully acted film about grief",
    "the plot is thin and the jokes fall flat",
    "one of the most charming movies of the year",
    "tedious , overlong and badly edited",
    "a warm and funny story with a great cast",
    "i wanted to leave after twenty minutes",
]
LABELS = [1, 0, 1, 0, 1, 0]


@pytest.fixture(scope="module")
def tiny():
    from transformers import BertConfig, BertForMaskedLM, BertModel

    from bortkit.pretrain.teacher import load_tokenizer

    tok = load_tokenizer()
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    mlm = BertForMaskedLM(cfg).eval()
    enc = BertModel(cfg).eval()
    embedder = functools.partial(hidden_state_embeddings, enc, tok)
    return tok, mlm, embedder


def test_propose_changes_masked_tokens_and_is_seeded(tiny):
    tok, mlm, emb = tiny
    s = textaug.MaskRefillSampler(mlm, tok, embedder=emb, mask_prob=0.2)
    a = s.propose(TEXTS[:2], n=3, seed=0)
    b = s.propose(TEXTS[:2], n=3, seed=0)
    assert a == b and [len(p) for p in a] == [3, 3]
    src = [tok.decode(tok(t)["input_ids"], skip_special_tokens=True) for t in TEXTS[:2]]
    for i, props in enumerate(a):
        assert all(p != src[i] for p in props)  # the original token is excluded at masks
    assert s.propose(TEXTS[:2], n=3, seed=1) != a


def test_sample_respects_band_and_count(tiny):
    tok, mlm, emb = tiny
    s = textaug.MaskRefillSampler(mlm, tok, embedder=emb, max_tries=3)
    band = (0.5, 0.999)
    new, src = s.sample(TEXTS, n_per_source=2, band=band, seed=0)
    assert len(new) == len(src) and len(new) > 0
    assert np.bincount(src, minlength=len(TEXTS)).max() <= 2
    sim = (emb(new) * emb([TEXTS[i] for i in src])).sum(1)  # embeddings are L2-normalised
    assert sim.min() >= band[0] - 1e-5 and sim.max() <= band[1] + 1e-5
    assert not set(new) & set(TEXTS)


def test_sample_with_an_impossible_band_returns_nothing(tiny):
    tok, mlm, emb = tiny
    s = textaug.MaskRefillSampler(mlm, tok, embedder=emb)
    new, src = s.sample(TEXTS[:2], n_per_source=2, band=(-1.0, -0.99), seed=0)
    assert new == [] and len(src) == 0


@pytest.mark.parametrize("kw", [dict(mask_prob=0.0), dict(temperature=0.0), dict(max_tries=0)])
def test_sampler_validation(tiny, kw):
    tok, mlm, emb = tiny
    with pytest.raises(ValueError):
        textaug.MaskRefillSampler(mlm, tok, embedder=emb, **kw)


def test_head_learner_fits_and_is_seeded(tiny):
    from bortkit.finetune.engine import Theta

    _, _, emb = tiny
    learner = textaug.HeadLearner(emb, n_labels=2, epochs=20)
    th = Theta(seed=0, lr=1e-2, batch_size=2, warmup_ratio=0.0)
    m = learner.fit(TEXTS, np.array(LABELS), th, seed=0)
    labels, probs = learner.predict(m, TEXTS)
    assert probs.shape == (6, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (labels == LABELS).mean() >= 5 / 6  # memorises 6 points
    m2 = learner.fit(TEXTS, np.array(LABELS), th, seed=0)
    np.testing.assert_allclose(learner.predict(m2, TEXTS)[1], probs, atol=1e-6)
    assert learner.n_steps_ == 2 * 20 * 3


def test_head_learner_validation(tiny):
    with pytest.raises(ValueError, match="epochs"):
        textaug.HeadLearner(tiny[2], n_labels=2, epochs=0)


def test_embedding_labeller(tiny):
    _, _, emb = tiny
    lab = textaug.EmbeddingLabeller(emb, TEXTS, LABELS, C=100.0)
    y, conf = lab.label(TEXTS)
    assert y.shape == (6,) and ((conf >= 0.5) & (conf <= 1.0)).all()
    assert lab.label([])[0].shape == (0,)
    with pytest.raises(ValueError, match="equal length"):
        textaug.EmbeddingLabeller(emb, TEXTS, LABELS[:3])


def test_text_agora_end_to_end_with_the_head_learner(tiny):
    """The whole text path (sampler → labeller → learner) through the generic loop."""
    from bortkit.finetune.engine import make_grid

    tok, mlm, emb = tiny
    thetas = make_grid(seeds=(0, 1), lrs=(1e-2,), batch_sizes=(2,))
    res = loop.augment(
        textaug.HeadLearner(emb, n_labels=2, epochs=2), (TEXTS[:3], np.array(LABELS[:3])),
        (TEXTS[3:], np.array(LABELS[3:])), thetas,
        sampler=textaug.MaskRefillSampler(mlm, tok, embedder=emb),
        labeller=textaug.EmbeddingLabeller(emb, TEXTS, LABELS),
        config=loop.AgoraConfig(samples_per_mistake=2, band=(0.0, 0.9999), augment_last=True),
        seed=0, progress=False)
    assert [len(r.thetas) for r in res.rounds] == [2, 1]
    for r in res.rounds:
        assert not set(r.new_points) & set(TEXTS)
        assert set(r.new_sources) <= set(r.mistakes)


@pytest.mark.slow
def test_finetune_learner_on_a_tiny_random_student(tiny):
    import datasets

    from bortkit.arch import ArchSpec
    from bortkit.finetune.engine import make_grid

    tok, _, _ = tiny
    feats = datasets.Features({"text": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["neg", "pos"])})
    mk = lambda t, y: datasets.Dataset.from_dict({"text": t, "label": y}, features=feats)  # noqa
    data = datasets.DatasetDict(train=mk(TEXTS[:4], LABELS[:4]), validation=mk(TEXTS, LABELS),
                                test=mk(TEXTS[2:], LABELS[2:]))
    spec = ArchSpec(num_hidden_layers=1, num_attention_heads=2, hidden_size=32,
                    intermediate_size=64, max_position_embeddings=64)
    learner = textaug.finetune_learner(data, spec, epochs=1, max_length=32, tokenizer=tok)
    fitted = learner.fit(TEXTS[:4], np.array(LABELS[:4]), make_grid(lrs=(1e-3,))[0], seed=0)
    labels, probs = learner.predict(fitted, TEXTS)
    assert labels.shape == (6,) and probs.shape == (6, 2)
    assert textaug.test_accuracy(learner, fitted, data) == fitted.test.get("accuracy")
    with pytest.raises(ValueError, match="exported"):
        learner.predict(fitted, ["not a dev text"])


def test_upstream_labeller_falls_back_to_empty(tmp_path):
    import json

    assert textaug.upstream_labeller(tmp_path / "missing") == ""
    assert textaug.upstream_labeller("") == ""
    (tmp_path / "summary.json").write_text(json.dumps({"labeller_dir": str(tmp_path / "m")}))
    assert textaug.upstream_labeller(tmp_path) == ""  # recorded but not there
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert textaug.upstream_labeller(tmp_path) == str(tmp_path / "m")


def test_run_experiment_validation():
    with pytest.raises(ValueError, match="learner"):
        textaug.run_experiment(learner="svm")
    with pytest.raises(ValueError, match="band"):
        textaug.run_experiment(toy=True, band=(0.9, 0.1))


def test_run_experiment_toy_is_quick_and_improves():
    exp = textaug.run_experiment(toy=True, smoke=True, progress=False)
    assert exp.kind == "torus" and exp.result.best_dev_accuracy > exp.result.accuracies[0]
    assert exp.to_dict()["dev_points"] and exp.test_accuracy is not None
