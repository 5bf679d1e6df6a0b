"""bortkit.agora.pool and the pool sampler: sentences from IMDB train reviews, Wikipedia and Lee
news, never a sentence of an evaluation split; near each source, inside the band; clear errors
for an empty pool."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora import pool as pool_mod
from bortkit.agora.pool import Pool, PoolConfig, build_pool, select_sentences, sentence_key
from bortkit.agora.samplers import MixedSampler, PoolSampler
from bortkit.data.tasks import TASKS, load_task

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sentences_and_keys():
    assert pool_mod.split_sentences("A fine film. Or is it?  Yes!\nNew line") == [
        "A fine film.", "Or is it?", "Yes!", "New line"]
    assert sentence_key("Great film !") == sentence_key("great  film.") == "great film"


def test_select_sentences_drops_evaluation_sentences_duplicates_and_odd_lengths():
    docs = [("The acting is superb and the plot moves fast. Bad.", "imdb"),
            ("the acting is superb , and the plot moves fast", "imdb"),  # same key
            ("A quiet film about grief and friendship in winter.", "wiki-lee")]
    exclude = {sentence_key("A quiet film about grief and friendship in winter")}
    out, n_excluded = select_sentences(docs, exclude=exclude, min_words=3, max_words=20)
    assert out == [("The acting is superb and the plot moves fast.", "imdb")]
    assert n_excluded == 1


def test_the_pool_never_returns_a_sentence_of_an_evaluation_split():
    """The real sources: every validation/test text of every builtin task (and every sentence of
    one) is absent from the pool, which holds IMDB train-split and corpus sentences."""
    config = PoolConfig.smoke(size=3000)
    pool = build_pool(config, cache=False)
    assert len(pool) == 3000 and set(pool.sources) == {"imdb", "wiki-lee"}
    assert pool.n_excluded > 0  # IMDB train reviews do repeat evaluation sentences: dropped
    keys = {sentence_key(t) for t in pool.texts}
    assert len(keys) == len(pool)
    for task in TASKS:
        dd = load_task(task, seed=config.split_seed)
        for split in ("validation", "test"):
            for text in dd[split]["text"]:
                assert sentence_key(text) not in keys
                for s in pool_mod.split_sentences(text):
                    assert sentence_key(s) not in keys, (task, split, s)
    again = Pool.from_dict(pool.to_dict())
    assert again == pool


def test_extra_exclusions_and_empty_pool():
    small = PoolConfig.smoke(size=50, sources=("wiki-lee",), exclude_tasks=("sms",))
    pool = build_pool(small, cache=False)
    first = pool.texts[0]
    fewer = build_pool(small, cache=False, exclude_texts=[first])
    assert first not in fewer.texts
    with pytest.raises(ValueError, match="pool is empty"):
        build_pool(small.replace(min_words=400, max_words=400), cache=False)


@pytest.mark.parametrize("kw,match", [(dict(size=0), "size"), (dict(sources=("web",)), "sources"),
                                      (dict(sources=()), "sources"),
                                      (dict(exclude_tasks=("glue",)), "exclude_tasks"),
                                      (dict(min_words=5, max_words=4), "max_words")])
def test_pool_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        PoolConfig(**kw)


def test_pool_sampler_band_count_and_errors(tiny, sentences):
    _, _, emb = tiny
    texts = sentences[0]
    pool = [t + " indeed" for t in texts] + ["an unrelated sentence about tax law",
                                             "the weather in march was cold"]
    s = PoolSampler(pool, embedder=emb, max_tries=3, band=None)  # the loop's band
    band = (0.3, 0.999)
    new, src = s.sample(texts[:3], n_per_source=2, band=band, seed=0)
    assert len(new) == len(src) > 0 and set(new) <= set(pool)
    assert np.bincount(src, minlength=3).max() <= 2 and len(set(new)) == len(new)
    sim = (emb(new) * emb([texts[i] for i in src])).sum(1)
    assert sim.min() >= band[0] - 1e-5 and sim.max() <= band[1] + 1e-5
    assert s.last_kinds_ == ["pool"] * len(new) and s.last_proposals_["pool"] >= len(new)
    again, again_src = s.sample(texts[:3], n_per_source=2, band=band, seed=0)
    assert again == new and (again_src == src).all()  # seeded
    assert s.sample(texts[:2], n_per_source=2, band=(-1.0, -0.99), seed=0)[0] == []
    own = PoolSampler(pool, embedder=emb, band=(-1.0, -0.99))  # its own band wins
    assert own.sample(texts[:2], n_per_source=2, band=(0.0, 1.0), seed=0)[0] == []
    with pytest.raises(ValueError, match="pool is empty"):
        PoolSampler([], embedder=emb)
    with pytest.raises(ValueError, match=r"band must lie inside \[-1, 1\]"):
        PoolSampler(pool, embedder=emb, band=(0.5, 1.5))
    with pytest.raises(ValueError, match="pool_embeddings"):
        PoolSampler(pool, embedder=emb, pool_embeddings=np.zeros((1, 32)))


def test_mixed_sampler_names_each_points_sampler(tiny, sentences):
    tok, mlm, emb = tiny
    from bortkit.agora.samplers import MaskRefillSampler

    texts = sentences[0]
    pool = [t + " indeed" for t in texts]
    mixed = MixedSampler([MaskRefillSampler(mlm, tok, embedder=emb),
                          PoolSampler(pool, embedder=emb, band=None)])
    new, src = mixed.sample(texts[:3], n_per_source=2, band=(0.0, 0.9999), seed=0)
    assert len(new) == len(src) == len(mixed.last_kinds_) and len(set(new)) == len(new)
    assert set(mixed.last_kinds_) == {"mask-refill", "pool"}
    assert set(mixed.last_proposals_) == {"mask-refill", "pool"}
    with pytest.raises(ValueError, match="samplers"):
        MixedSampler([])
