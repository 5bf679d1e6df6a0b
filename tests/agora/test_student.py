"""bortkit.agora.student: the student learner trains a fixed number of steps per fit (equal
budgets), distils the labeller's probabilities on labeller-labelled points only, is seeded, loads
a pretrained student folder; and mask-and-refill works with a restricted-vocabulary teacher."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora.labellers import EmbeddingLabeller, check_labeller
from bortkit.agora.samplers import MaskRefillSampler
from bortkit.agora.student import StudentConfig, StudentLearner
from bortkit.theta import Theta

pytestmark = pytest.mark.usefixtures("one_thread")

THETA = Theta(seed=0, lr=3e-3, batch_size=4, warmup_ratio=0.0)


def _learner(tokenizer, spec, texts, **config):
    soft = lambda t: np.tile([0.2, 0.8], (len(t), 1))  # noqa: E731 - a fixed "labeller"
    return StudentLearner(spec, label_names=("neg", "pos"), tokenizer=tokenizer,
                          gold_texts=texts[:4], soft_targets=soft,
                          config=StudentConfig.smoke(**config))


def test_fixed_steps_per_fit_and_seeded(tokenizer, tiny_spec, sentences):
    texts, labels = sentences
    learner = _learner(tokenizer, tiny_spec(max_position_embeddings=64), texts, steps=30)
    m = learner.fit(texts, np.array(labels), THETA, seed=0)
    assert learner.n_steps_ == 30
    learner.fit(texts[:2], np.array(labels[:2]), THETA, seed=0)  # 2 points: still 30 steps
    assert learner.n_steps_ == 60
    pred, probs = learner.predict(m, texts)
    assert probs.shape == (6, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    again = learner.fit(texts, np.array(labels), THETA, seed=0)
    np.testing.assert_allclose(learner.predict(again, texts)[1], probs, atol=1e-5)
    other = learner.fit(texts, np.array(labels), THETA.replace(seed=1), seed=0)
    assert not np.allclose(learner.predict(other, texts)[1], probs, atol=1e-5)
    assert learner.predict(m, [])[1].shape == (0, 2)


def test_gold_keeps_hard_labels_and_labeller_points_are_distilled(tokenizer, tiny_spec,
                                                                  sentences):
    texts, labels = sentences
    learner = _learner(tokenizer, tiny_spec(), texts)
    t = learner.targets(texts, np.array(labels))
    np.testing.assert_array_equal(t[:4], np.eye(2)[labels[:4]])  # gold: one-hot
    np.testing.assert_allclose(t[4:], [[0.2, 0.8]] * 2)  # labeller-labelled: its probabilities
    hard = _learner(tokenizer, tiny_spec(), texts, soft_labels=False)
    np.testing.assert_array_equal(hard.targets(texts, np.array(labels)), np.eye(2)[labels])
    with pytest.raises(ValueError, match="labels must lie"):
        learner.targets(texts[:1], np.array([2]))
    with pytest.raises(ValueError, match="soft_targets"):
        StudentLearner(tiny_spec(), label_names=("a", "b"), tokenizer=tokenizer,
                       config=StudentConfig.smoke())


def test_learns_a_separable_toy_task(tokenizer, tiny_spec, sentences):
    texts, labels = sentences
    learner = _learner(tokenizer, tiny_spec(), texts, steps=60, soft_labels=False)
    m = learner.fit(texts, np.array(labels), THETA.replace(lr=5e-3, batch_size=6), seed=0)
    assert (learner.predict(m, texts)[0] == labels).mean() >= 5 / 6


def test_loads_a_pretrained_student_folder(tokenizer, tiny_spec, sentences, tmp_path):
    from transformers import BertModel

    spec = tiny_spec(max_position_embeddings=64)
    BertModel(spec.to_bert_config(), add_pooling_layer=False).save_pretrained(tmp_path)
    texts, labels = sentences
    learner = _learner(tokenizer, str(tmp_path), texts, pooling="first")
    m = learner.fit(texts, np.array(labels), THETA, seed=0)
    assert m.config.hidden_size == 32 and m.config.pooling == "first"


@pytest.mark.parametrize("kw,match", [(dict(steps=0), "steps"), (dict(pooling="max"), "pooling"),
                                      (dict(max_length=4), "max_length"),
                                      (dict(soft_labels=1), "soft_labels"),
                                      (dict(device="tpu"), "device")])
def test_student_config_validation(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        StudentConfig(**kw)


def test_a_labeller_with_another_label_set_is_refused(tiny, sentences):
    _, _, emb = tiny
    texts, labels = sentences
    lab = EmbeddingLabeller(emb, texts, [0, 1, 2, 0, 1, 2], label_names=("a", "b", "c"))
    with pytest.raises(ValueError, match="labeller labels .* differ from the task's"):
        check_labeller(lab, ("neg", "pos"))
    named = EmbeddingLabeller(emb, texts, labels, label_names=("bad", "good"))
    with pytest.raises(ValueError, match="differ"):
        check_labeller(named, ("neg", "pos"))
    ok = EmbeddingLabeller(emb, texts, labels)  # unnamed classes: the count must match
    assert check_labeller(ok, ("neg", "pos")) is ok
    assert ok.probs(texts).shape == (6, 2)


def test_mask_refill_with_a_restricted_vocabulary_teacher(tokenizer, tiny_spec, sentences):
    import torch
    from transformers import BertModel

    from bortkit.pretrain.teacher_head import from_encoder
    from bortkit.pretrain.vocab import build_vocab

    texts = sentences[0][:2]
    ids = tokenizer(sentences[0])["input_ids"]
    vocab = build_vocab([i for row in ids for i in row], full_size=len(tokenizer),
                        special_ids=tokenizer.all_special_ids, size=40)
    torch.manual_seed(0)
    encoder = BertModel(tiny_spec(max_position_embeddings=64).to_bert_config(),
                        add_pooling_layer=False)
    mlm = from_encoder(encoder, vocab).eval()
    sampler = MaskRefillSampler(mlm, tokenizer, embedder=lambda t: np.eye(len(t)),
                                mask_prob=0.3)
    props = sampler.propose(texts, n=4, seed=0)
    kept = set(vocab.ids) - set(tokenizer.all_special_ids)
    for text, variants in zip(texts, props):
        base = tokenizer(text)["input_ids"]
        for v in variants:
            new = tokenizer(v)["input_ids"]
            if len(new) == len(base):  # the refill re-tokenises to the same length
                changed = [b for a, b in zip(base, new) if a != b]
                assert changed and set(changed) <= kept  # full ids drawn from the Vocab
