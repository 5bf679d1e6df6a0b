"""Pretraining from the teacher-output cache: both objectives and both inits learn and export a
plain BERT folder; a cached KD step on a fixed batch lowers the loss; resume is exact; a student,
tokenizer, corpus or objective that does not fit the cache is one clear error. A tiny random
restricted-head teacher and its smoke cache (no real teacher is built)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain import distill, engine
from bortkit.pretrain.batches import CacheSource
from bortkit.pretrain.cache import CacheConfig, teacher_cache
from bortkit.pretrain.records import PretrainConfig, PretrainResult
from bortkit.pretrain.teacher_head import model_class
from bortkit.pretrain.vocab import build_vocab

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(lee_corpus):
    return lee_corpus(40)


@pytest.fixture(scope="module")
def cache(tmp_path_factory, tiny_teacher, tokenizer, corpus):
    built = teacher_cache(CacheConfig.smoke(device="cpu"), teacher=tiny_teacher(corpus),
                          tokenizer=tokenizer, corpus=corpus,
                          path=tmp_path_factory.mktemp("cache") / "c")
    return built.open()


@pytest.fixture(scope="module")
def spec(tokenizer):
    return ArchSpec(2, 2, 32, 64, vocab_size=len(tokenizer), max_position_embeddings=64)


def _config(**changes):
    """A run on the smoke cache's 32-token sequences."""
    return PretrainConfig(**{"seq_len": 32, "steps": 6, "batch_size": 4, "lr": 3e-3,
                             "eval_every": 3, "eval_blocks": 8, **changes})


@pytest.mark.parametrize("init", ["random", "pca"])
@pytest.mark.parametrize("objective", ["kd", "mlm"])
def test_cache_route_trains_and_exports_a_plain_bert(tmp_path, tokenizer, cache, spec, init,
                                                     objective):
    from transformers import BertForSequenceClassification

    res = engine.pretrain(spec, _config(init=init, objective=objective), tokenizer=tokenizer,
                          cache=cache, output_dir=tmp_path, progress=False)
    assert res.curve.eval_steps == (3, 6) and len(res.curve.eval_kl) == 2
    assert all(math.isfinite(k) and k > 0 for k in res.curve.eval_kl)
    assert (set(res.curve.train_kd) == {0.0}) == (objective == "mlm")
    assert 0.0 <= res.extra["teacher_accuracy"] <= 1.0
    assert PretrainResult.load(tmp_path) == res
    # the hand-off: a plain BertModel folder that a sequence classifier loads whole
    model_dir, mlm_dir = Path(res.model_dir), Path(res.mlm_dir)
    clf, info = BertForSequenceClassification.from_pretrained(model_dir, num_labels=2,
                                                              output_loading_info=True)
    assert not [k for k in info["missing_keys"] if "encoder" in k or "embeddings" in k]
    # the restricted student with its K-way head and vocab.json, loadable for more pretraining
    student = model_class().from_pretrained(mlm_dir)
    assert student.vocab == cache.vocab
    assert student.cls.decoder.weight.shape == (cache.vocab.size, spec.hidden_size)
    assert student.bert.embeddings.word_embeddings.weight.shape == (spec.vocab_size,
                                                                    spec.hidden_size)
    assert torch.equal(clf.bert.embeddings.word_embeddings.weight,
                       student.bert.embeddings.word_embeddings.weight)


def test_pca_init_starts_from_the_cached_projection(tokenizer, cache, spec):
    pca = distill.build_student(spec, tokenizer, vocab=cache.vocab, init="pca", pca=cache.pca)
    rand = distill.build_student(spec, tokenizer, vocab=cache.vocab, init="random")
    want = torch.from_numpy(cache.pca.project("word", spec.hidden_size))
    assert torch.equal(pca.bert.embeddings.word_embeddings.weight.detach(), want)
    assert not torch.equal(rand.bert.embeddings.word_embeddings.weight.detach(), want)
    with pytest.raises(ValueError, match="vocab"):  # pca needs the restricted vocabulary
        distill.build_student(spec, tokenizer, init="pca")
    with pytest.raises(ValueError, match="max_position_embeddings"):  # does not fit the shape
        distill.build_student(spec.replace(max_position_embeddings=4096), tokenizer,
                              vocab=cache.vocab, init="pca", pca=cache.pca)


def test_cached_kd_lowers_the_loss_on_a_fixed_batch(tokenizer, cache, spec):
    student = distill.build_student(spec, tokenizer, vocab=cache.vocab, init="pca",
                                    pca=cache.pca)
    cfg = _config(temperature=1.0, w_mlm=0.0, w_kd=1.0)
    batch = CacheSource(student, cfg, cache=cache, tokenizer=tokenizer,
                        device="cpu").batch(0, 0, 1, "cpu")
    module = distill.make_distiller(student, None, objective="kd", cached=True)
    opt = torch.optim.AdamW(module.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        parts = module(batch.input_ids, batch.attention_mask, batch.labels, None, cfg,
                       batch.masked, batch.values, batch.indices)
        opt.zero_grad()
        parts.total.backward()
        opt.step()
        losses.append(parts.total.item())
    assert losses[-1] < 0.7 * losses[0]


def test_interrupted_cache_run_resumes_exactly(tmp_path, tokenizer, cache, spec):
    class Stop(Exception):
        pass

    class StopAt:
        def on_step_end(self, step, loss):
            if step == 3:
                raise Stop

    cfg = _config(checkpoint_every=2, eval_every=2)
    kw = dict(tokenizer=tokenizer, cache=cache, progress=False)
    with pytest.raises(Stop):
        engine.pretrain(spec, cfg, output_dir=tmp_path / "a", callbacks=[StopAt()], **kw)
    resumed = engine.pretrain(spec, cfg, output_dir=tmp_path / "a", resume=True, **kw)
    whole = engine.pretrain(spec, cfg, output_dir=tmp_path / "b", **kw)
    assert resumed.resumed_from == 2
    assert resumed.curve.train_loss == pytest.approx(whole.curve.train_loss, rel=1e-6)
    assert resumed.curve.eval_kl == pytest.approx(whole.curve.eval_kl, rel=1e-6)


def test_what_does_not_fit_the_cache_is_one_clear_error(tokenizer, cache, spec, corpus):
    kw = dict(tokenizer=tokenizer, cache=cache, progress=False)
    # a student over another output vocabulary (another teacher's Vocab)
    from bortkit.pretrain.mlm import corpus_blocks

    other = build_vocab(corpus_blocks(corpus, tokenizer, seq_len=32).train,
                        full_size=len(tokenizer), special_ids=tokenizer.all_special_ids,
                        size=50)
    student = distill.build_student(spec, tokenizer, vocab=other)
    with pytest.raises(ValueError, match="differs from the cached teacher's"):
        engine.pretrain(student, _config(), **kw)
    with pytest.raises(ValueError, match="full-vocabulary MLM head"):
        engine.pretrain(distill.build_student(spec, tokenizer), _config(), **kw)
    # another tokenizer (one added token: another vocabulary)
    tok2 = copy.deepcopy(tokenizer)
    tok2.add_tokens(["zzqqxx"])
    with pytest.raises(ValueError, match="tokenizer"):
        engine.pretrain(spec, _config(), **{**kw, "tokenizer": tok2})
    # a cache built from another corpus than the run is meant for
    with pytest.raises(ValueError, match="built from corpus"):
        engine.pretrain(spec, _config(), corpus=Corpus.from_texts(["a b c"] * 3, ["d e"]), **kw)
    # hidden-state KD needs hidden states, which the cache does not store
    with pytest.raises(ValueError, match="hidden states"):
        engine.pretrain(spec, _config(objective="hidden"), **kw)
    with pytest.raises(ValueError, match="seq_len=64"):
        engine.pretrain(spec, _config(seq_len=64), **kw)
    with pytest.raises(ValueError, match="cache= .* or train_blocks="):
        engine.pretrain(spec, _config(), tokenizer=tokenizer, progress=False)
