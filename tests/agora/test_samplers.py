"""bortkit.agora.samplers: mask-and-refill proposals change the text and are seeded; accepted
samples respect the cosine band and the per-source count."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora.samplers import MaskRefillSampler

pytestmark = pytest.mark.usefixtures("one_thread")


def test_propose_changes_masked_tokens_and_is_seeded(tiny, sentences):
    tok, mlm, emb = tiny
    texts = sentences[0][:2]
    s = MaskRefillSampler(mlm, tok, embedder=emb, mask_prob=0.2)
    a = s.propose(texts, n=3, seed=0)
    b = s.propose(texts, n=3, seed=0)
    assert a == b and [len(p) for p in a] == [3, 3]
    src = [tok.decode(tok(t)["input_ids"], skip_special_tokens=True) for t in texts]
    for i, props in enumerate(a):
        assert all(p != src[i] for p in props)  # the original token is excluded at masks
    assert s.propose(texts, n=3, seed=1) != a


def test_sample_respects_band_and_count(tiny, sentences):
    tok, mlm, emb = tiny
    texts = sentences[0]
    s = MaskRefillSampler(mlm, tok, embedder=emb, max_tries=3)
    band = (0.5, 0.999)
    new, src = s.sample(texts, n_per_source=2, band=band, seed=0)
    assert len(new) == len(src) and len(new) > 0
    assert np.bincount(src, minlength=len(texts)).max() <= 2
    sim = (emb(new) * emb([texts[i] for i in src])).sum(1)  # embeddings are L2-normalised
    assert sim.min() >= band[0] - 1e-5 and sim.max() <= band[1] + 1e-5
    assert not set(new) & set(texts)
    assert 0 < s.last_acceptance_ <= 1


def test_sample_with_an_impossible_band_returns_nothing(tiny, sentences):
    tok, mlm, emb = tiny
    s = MaskRefillSampler(mlm, tok, embedder=emb)
    new, src = s.sample(sentences[0][:2], n_per_source=2, band=(-1.0, -0.99), seed=0)
    assert new == [] and len(src) == 0
    assert s.sample([], n_per_source=2, band=(0.0, 1.0), seed=0)[0] == []


@pytest.mark.parametrize("kw,match", [(dict(mask_prob=0.0), "mask_prob"),
                                      (dict(temperature=0.0), "temperature"),
                                      (dict(max_tries=0), "max_tries")])
def test_sampler_validation(tiny, kw, match):
    tok, mlm, emb = tiny
    with pytest.raises(ValueError, match=match):
        MaskRefillSampler(mlm, tok, embedder=emb, **kw)
