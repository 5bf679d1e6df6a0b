"""The teacher-output cache: built once then loaded (no teacher forward), consistent arrays,
a truncated file rebuilt with a notice, a foreign folder refused naming file and field, and the
CUDA build (skipped without a GPU). A tiny random restricted-head teacher, a tiny corpus."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from bortkit.pretrain import teacher as teacher_lib
from bortkit.pretrain import teacher_head
from bortkit.pretrain.cache import CacheConfig, TeacherCache, model_fingerprint, teacher_cache

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(lee_corpus):
    return lee_corpus(40)


@pytest.fixture(scope="module")
def teacher(tiny_teacher, corpus):
    return tiny_teacher(corpus)


@pytest.fixture()
def forwards(monkeypatch):
    """Counts the teacher's forward passes (calls of `restricted_logits`)."""
    calls = []
    real = teacher_head.restricted_logits

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(teacher_head, "restricted_logits", counting)
    return calls


def _build(tmp_path, teacher, tokenizer, corpus, **kw):
    kw.setdefault("path", tmp_path / "cache")
    return teacher_cache(CacheConfig.smoke(device="cpu"), teacher=teacher, tokenizer=tokenizer,
                         corpus=corpus, **kw)


def test_second_call_loads_without_a_teacher_forward(tmp_path, monkeypatch, teacher, tokenizer,
                                                     corpus, forwards):
    monkeypatch.setenv("BORTKIT_CACHE", str(tmp_path))
    builds = []
    kw = dict(teacher=teacher, tokenizer=tokenizer, corpus=corpus,
              on_build=lambda: builds.append(1))
    first = teacher_cache(CacheConfig.smoke(device="cpu"), **kw)
    n_forward = len(forwards)
    assert builds == [1] and n_forward == 8 + 2  # one per stored batch
    assert Path(first.path) == tmp_path / "teacher_cache" / first.key
    second = teacher_cache(CacheConfig.smoke(device="cpu"), **kw)
    assert builds == [1] and len(forwards) == n_forward  # a load: no teacher forward
    assert second == first
    assert TeacherCache.from_dict(first.to_dict()) == first
    # the device is not part of the key; the mask seed is
    assert teacher_cache(CacheConfig.smoke(device="auto"), **kw).key == first.key
    other = teacher_cache(CacheConfig.smoke(device="cpu", mask_seed=1), **kw)
    assert other.key != first.key and builds == [1, 1]


def test_arrays_are_consistent(tmp_path, teacher, tokenizer, corpus):
    cache = _build(tmp_path, teacher, tokenizer, corpus)
    out = cache.open()
    cfg = cache.config
    vocab = teacher_head.teacher_vocab(teacher)
    assert out.vocab == vocab and cache.vocab_key == vocab.key
    assert cache.teacher_key == model_fingerprint(teacher) and cache.corpus_key == corpus.key
    for name, n_rows in (("train", 32), ("heldout", 8)):
        s = out.split(name)
        assert s.input_ids.shape == s.labels.shape == s.masked.shape == (n_rows, cfg.seq_len)
        assert s.offsets[-1] == s.values.shape[0] == s.masked.sum()
        assert s.values.shape == s.indices.shape == (s.offsets[-1], cfg.top_k)
        assert s.values.dtype == np.float16 and s.indices.dtype == np.int16
        assert (np.diff(s.values.astype(np.float32), axis=1) <= 0).all()  # top-k, sorted
        assert s.indices.min() >= 0 and s.indices.max() < vocab.size
        assert (s.labels[~s.masked] == -100).all()
        assert ((s.labels[s.masked] >= -100) & (s.labels[s.masked] < vocab.size)).all()
        assert (s.labels != -100).sum() > 0
    assert np.allclose(out.unigram(), vocab.unigram()) and out.pca.word.shape == (
        len(tokenizer), 64)
    # the stored top-k equal the teacher's logits at the stored masked inputs
    s = out.split("heldout").to("cpu").rows(0, 4)
    with torch.inference_mode():
        z = teacher_head.restricted_logits(teacher, s.input_ids, s.attention_mask, s.masked)
    top = z.topk(cfg.top_k, dim=-1)
    assert torch.equal(top.indices, s.indices)
    assert torch.allclose(top.values, s.values, atol=1e-2)
    # deterministic: a second build elsewhere stores the same arrays
    again = _build(tmp_path, teacher, tokenizer, corpus, path=tmp_path / "again").open()
    for key, arr in out.arrays.items():
        assert np.array_equal(arr, again.arrays[key]), key


def test_truncated_file_is_rebuilt_with_a_notice(tmp_path, teacher, tokenizer, corpus, forwards,
                                                 caplog):
    cache = _build(tmp_path, teacher, tokenizer, corpus)
    n_forward = len(forwards)
    victim = Path(cache.path) / "train.topk_values.npy"
    victim.write_bytes(victim.read_bytes()[:-10])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bortkit.pretrain.cache"):
        again = _build(tmp_path, teacher, tokenizer, corpus)
    notices = [r.getMessage() for r in caplog.records]  # one line, naming the file and why
    assert len(notices) == 1 and "train.topk_values.npy" in notices[0]
    assert "truncated" in notices[0] and "rebuilding" in notices[0]
    assert len(forwards) == 2 * n_forward
    assert again.key == cache.key and again.open().split("train").values.shape[0] > 0
    (Path(cache.path) / "heldout.labels.npy").unlink()  # a missing file: the same
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bortkit.pretrain.cache"):
        _build(tmp_path, teacher, tokenizer, corpus)
    assert "missing" in caplog.records[0].getMessage()


def test_foreign_cache_is_refused_naming_file_and_field(tmp_path, teacher, tokenizer, corpus,
                                                       tiny_teacher, lee_corpus):
    cache = _build(tmp_path, teacher, tokenizer, corpus)
    meta = str(Path(cache.path) / "meta.json")
    other = tiny_teacher(corpus, seed=1)
    with pytest.raises(ValueError, match="teacher_key") as err:
        _build(tmp_path, other, tokenizer, corpus)
    assert meta in str(err.value)
    with pytest.raises(ValueError, match="corpus_key"):
        _build(tmp_path, teacher, tokenizer, lee_corpus(30))
    with pytest.raises(ValueError, match="top_k"):
        teacher_cache(CacheConfig.smoke(device="cpu", top_k=4), teacher=teacher,
                      tokenizer=tokenizer, corpus=corpus, path=cache.path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a teacher cache"):
        _build(tmp_path, teacher, tokenizer, corpus, path=tmp_path / "junk")
    # a cache built with another tokenizer (meta.json edited to say so)
    foreign = TeacherCache.load(meta).replace(tokenizer="RobertaTokenizerFast/50265/abc")
    foreign.save(meta)
    with pytest.raises(ValueError, match="tokenizer='RobertaTokenizerFast"):
        _build(tmp_path, teacher, tokenizer, corpus)


def test_config_validates_and_round_trips():
    cfg = CacheConfig.smoke()
    assert CacheConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.teacher == teacher_lib.TeacherConfig.smoke()
    for bad in ({"top_k": 0}, {"mlm_probability": 1.0}, {"values_dtype": "int8"},
                {"seq_len": 4}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            CacheConfig(**bad)
    with pytest.raises(TypeError, match="teacher"):
        CacheConfig(teacher={"steps": 5})


def test_top_k_larger_than_the_vocab_is_an_error(tmp_path, teacher, tokenizer, corpus):
    with pytest.raises(ValueError, match="top_k"):
        teacher_cache(CacheConfig.smoke(device="cpu", top_k=10_000), teacher=teacher,
                      tokenizer=tokenizer, corpus=corpus, path=tmp_path / "c")


@pytest.mark.cuda
def test_cuda_build_matches_cpu(tmp_path, teacher, tokenizer, corpus):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    cpu = _build(tmp_path, teacher, tokenizer, corpus).open()
    gpu_cache = teacher_cache(CacheConfig.smoke(device="cuda"), teacher=teacher,
                              tokenizer=tokenizer, corpus=corpus, path=tmp_path / "gpu")
    assert gpu_cache.device == "cuda"
    gpu = gpu_cache.open()
    for name in ("train", "heldout"):
        a, b = cpu.split(name), gpu.split(name)
        assert np.array_equal(a.input_ids, b.input_ids) and np.array_equal(a.labels, b.labels)
        assert np.allclose(a.values.astype(np.float32), b.values.astype(np.float32), atol=2e-2)
