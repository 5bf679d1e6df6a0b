"""The pretraining corpus: cleaned, deterministic, cached atomically, held-out disjoint,
IMDB text disjoint from the IMDB evaluation splits."""

from __future__ import annotations

import json

import pytest

from bortkit.data.corpus import Corpus, CorpusStats, build_corpus, corpus_stats
from bortkit.data.tasks import load_task
from bortkit.pretrain.teacher import load_tokenizer


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus()


def test_corpus_size_and_sources(corpus):
    assert corpus.sources == ("enwiki-excerpt", "lee-background")
    assert 2_500_000 < corpus.n_chars < 3_500_000
    assert len(corpus.train_texts) > 300 and len(corpus.heldout_texts) >= 3
    assert 0.04 < corpus.n_heldout_chars / corpus.n_chars < 0.1


def test_heldout_disjoint_from_train(corpus):
    assert not set(corpus.train_texts) & set(corpus.heldout_texts)


def test_wiki_markup_removed(corpus):
    sample = corpus.train_texts + corpus.heldout_texts
    for marker in ("'''", "''", "[[", "{{", "<ref"):
        assert not any(marker in t for t in sample), marker


def test_deterministic_and_cached(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("BORTKIT_CACHE", str(tmp_path))
    fresh = build_corpus(cache=True)
    assert fresh == corpus
    files = [p.name for p in (tmp_path / "corpus").iterdir()]
    assert files == [f"corpus-{corpus.key}.json"]  # no temp file left behind
    assert build_corpus() == corpus  # from the cache


def test_seed_changes_heldout(corpus):
    other = build_corpus(seed=1)
    assert other.key != corpus.key and other.heldout_texts != corpus.heldout_texts


def test_imdb_text_disjoint_from_imdb_eval_splits():
    c = build_corpus(include_imdb=True, imdb_max_docs=300)
    assert "imdb" in c.sources
    dd = load_task("imdb")
    texts = set(c.train_texts) | set(c.heldout_texts)
    assert len(texts & set(dd["train"]["text"])) == 300
    assert not texts & (set(dd["validation"]["text"]) | set(dd["test"]["text"]))


def test_corpus_stats_counts_tokens():
    c = Corpus.from_texts(["hello world, hello"], ["goodbye world"])
    stats = corpus_stats(c, load_tokenizer())
    assert (stats.n_train_docs, stats.n_train_chars) == (1, 18)
    assert stats.n_train_tokens == 4 and stats.n_heldout_tokens == 2
    assert corpus_stats(c).n_train_tokens is None


def test_roundtrip(corpus, tmp_path):
    assert Corpus.from_dict(corpus.to_dict()) == corpus
    stats = corpus_stats(corpus)
    assert CorpusStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    # a cache file written before the Record idiom (compact JSON, same keys) still loads
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"train_texts": ["a b"], "heldout_texts": ["c"]}))
    assert Corpus.load(old) == Corpus(("a b",), ("c",))


@pytest.mark.parametrize("kw, match", [
    ({"heldout_fraction": 0.0}, "heldout_fraction"),
    ({"heldout_fraction": 0.7}, "heldout_fraction"),
    ({"seed": -1}, "seed"),
    ({"imdb_max_docs": 0}, "imdb_max_docs"),
])
def test_bad_arguments_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        build_corpus(**kw)


def test_from_texts_validates():
    with pytest.raises(ValueError, match="heldout_texts is empty"):
        Corpus.from_texts(["a"], [])
    with pytest.raises(TypeError, match="train_texts must hold strings"):
        Corpus.from_texts([1], ["a"])
