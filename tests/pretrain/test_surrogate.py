"""The FPTAS surrogate: `surrogate_error(spec, config)` reads the teacher cache, is deterministic
and typed; the KL error is 0 for the teacher's distribution and 1 for the unigram predictor;
`SurrogateEvaluator` adapts it to the search's Evaluator protocol. Tiny teacher and corpus."""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.pretrain import surrogate
from bortkit.pretrain.cache import CacheConfig, teacher_cache
from bortkit.pretrain.cached_kd import cached_tensors, heldout_metrics, stream_rows
from bortkit.pretrain.surrogate import (
    SurrogateConfig,
    SurrogateEvaluator,
    SurrogateResult,
    surrogate_error,
)
from bortkit.pretrain.teacher import TeacherConfig
from bortkit.search.evaluation import EvalResult, Evaluator
from bortkit.theta import Theta

pytestmark = pytest.mark.usefixtures("one_thread")

SPEC = ArchSpec(1, 2, 32, 64, max_position_embeddings=64)
THETA = Theta(seed=1, lr=2e-3, weight_decay=0.01, warmup_ratio=0.06, batch_size=4)


@pytest.fixture(scope="module")
def teacher(tiny_teacher, lee_corpus):
    return tiny_teacher(lee_corpus(40))


@pytest.fixture(scope="module")
def cache(tmp_path_factory, teacher, tokenizer, lee_corpus):
    return teacher_cache(CacheConfig.smoke(device="cpu"), teacher=teacher, tokenizer=tokenizer,
                         corpus=lee_corpus(40), path=tmp_path_factory.mktemp("c") / "cache").open()


def _config(**changes):
    return SurrogateConfig.smoke(**{"theta": THETA, "device": "cpu", **changes})


def test_surrogate_error_is_deterministic(cache):
    one = surrogate_error(SPEC, _config(), cache=cache)
    two = surrogate_error(SPEC, _config(), cache=cache)
    assert (one.error, one.loss, one.kl, one.n_params) == (two.error, two.loss, two.kl,
                                                          two.n_params)
    assert one.error == one.kl and 0 < one.kl < 3 and one.seconds > 0 and one.steps == 4
    assert 0 <= one.accuracy <= 1 and one.kl_nats > 0
    assert SurrogateResult.from_dict(one.to_dict()) == one
    other_seed = surrogate_error(SPEC, _config(theta=dataclasses.replace(THETA, seed=2)),
                                 cache=cache)
    assert other_seed.kl != one.kl
    acc = surrogate_error(SPEC, _config(error="accuracy"), cache=cache)
    assert acc.error == pytest.approx(1.0 - acc.accuracy) and acc.kl == one.kl


@pytest.mark.parametrize("init", ["random", "pca", "inherit"])
def test_every_init_trains(cache, teacher, init):
    res = surrogate_error(SPEC, _config(init=init, freeze_embeddings=init == "pca"), cache=cache,
                          teacher=teacher)
    assert math.isfinite(res.kl) and res.kl > 0


def test_kl_error_is_zero_for_the_teacher_and_one_for_unigram(cache):
    _, held, log_u = cached_tensors(cache, "cpu")
    k = int(log_u.shape[0])
    seen = [0]  # masked positions already scored: heldout_metrics walks the rows in order

    def teacher_distribution(input_ids, attention_mask, masked):
        # the teacher's top-k distribution: its stored logits there, (almost) -inf elsewhere
        lo, n = seen[0], int(masked.sum())
        seen[0] += n
        z = torch.full((n, k), -1e4)
        return z.scatter(1, held.indices[lo:lo + n], held.values[lo:lo + n])

    def unigram(input_ids, attention_mask, masked):
        return log_u.expand(int(masked.sum()), k)

    assert heldout_metrics(teacher_distribution, held, log_u, chunk=3).kl == pytest.approx(
        0.0, abs=1e-6)
    assert seen[0] == int(held.offsets[-1])
    assert heldout_metrics(unigram, held, log_u, chunk=3).kl == pytest.approx(1.0, abs=1e-6)


def test_stream_wraps_around(cache):
    train, _, _ = cached_tensors(cache, "cpu")
    n = len(train)
    b = stream_rows(train, n - 2, 5)  # 2 rows at the end, then 3 from the start
    assert torch.equal(b.input_ids, torch.cat([train.input_ids[n - 2:], train.input_ids[:3]]))
    want = torch.cat([train.values[train.offsets[n - 2]:], train.values[:train.offsets[3]]])
    assert torch.equal(b.values, want) and int(b.offsets[-1]) == len(want)
    assert torch.equal(stream_rows(train, n + 1, 2).input_ids, train.input_ids[1:3])


def test_config_validates_and_round_trips():
    config = _config(temperature=2.0, init="random")
    assert SurrogateConfig.from_dict(config.to_dict()) == config
    assert SurrogateConfig.smoke().cache == CacheConfig.smoke()
    assert SurrogateConfig.smoke().cache.teacher == TeacherConfig.smoke()
    with pytest.raises(TypeError, match="theta must be a Theta"):
        SurrogateConfig(theta={"lr": 1e-3})
    for bad in ({"error": "x"}, {"init": "x"}, {"steps": 0}, {"temperature": 0.0},
                {"w_kd": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SurrogateConfig(**bad)
    with pytest.raises(ValueError, match="both 0"):
        SurrogateConfig(w_kd=0.0, w_mlm=0.0)


def test_seq_len_must_fit_the_spec(cache):
    with pytest.raises(ValueError, match="max_position_embeddings"):
        surrogate_error(ArchSpec(1, 2, 32, 64, max_position_embeddings=16), _config(),
                        cache=cache)


def test_evaluator_adapts_surrogate_error(monkeypatch, cache):
    asked = []
    monkeypatch.setattr(surrogate, "default_cache", lambda config: asked.append(config) or cache)
    ev = SurrogateEvaluator(batch_size=4, seq_len=32, smoke=True, device="cpu")
    assert isinstance(ev, Evaluator)
    got = ev.evaluate(SPEC, Theta(seed=9, lr=2e-3, weight_decay=0.01, warmup_ratio=0.06,
                                  batch_size=64), steps=4, seed=1)
    # the call's seed and the evaluator's |B| replace θ's
    want = surrogate_error(SPEC, _config(), cache=cache)
    assert isinstance(got, EvalResult)
    assert (got.error, got.loss) == (want.error, want.loss)
    assert asked == [CacheConfig.smoke()]
    with pytest.raises(TypeError, match="Theta"):
        ev.evaluate(SPEC, {"lr": 1e-3}, steps=1, seed=0)


def test_evaluator_versions_key_their_settings():
    sur = SurrogateEvaluator(batch_size=4)
    assert sur.version.startswith("surrogate-v2(batch_size=4,error=kl,init=pca,")
    assert "top_k=32" in sur.version and TeacherConfig().key() in sur.version
    assert SurrogateEvaluator(error="accuracy").version != SurrogateEvaluator().version
    assert SurrogateEvaluator(device="cpu").version == SurrogateEvaluator().version
    assert pickle.loads(pickle.dumps(sur)) == sur
    with pytest.raises(ValueError, match="error"):
        SurrogateEvaluator(error="x")
    with pytest.raises(ValueError, match="seq_len"):
        SurrogateEvaluator(seq_len=32, cache=CacheConfig()).cache_config()


@pytest.mark.cuda
def test_surrogate_on_cuda_matches_cpu(cache):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    cpu = surrogate_error(SPEC, _config(), cache=cache)
    gpu = surrogate_error(SPEC, _config(device="cuda"), cache=cache)
    assert gpu.kl == pytest.approx(cpu.kl, rel=0.05)
