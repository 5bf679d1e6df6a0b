"""The FPTAS surrogate: `surrogate_error(spec, config)` reads the teacher cache, is deterministic
and typed; the KL error is 0 for the teacher's distribution and 1 for the unigram predictor;
`SurrogateEvaluator` adapts it to the search's Evaluator protocol. Tiny teacher and corpus."""

from __future__ import annotations

import dataclasses
import math
import pickle
from pathlib import Path

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.pretrain import surrogate
from bortkit.pretrain.cache import CacheConfig, teacher_cache
from bortkit.pretrain.cached_kd import (
    cached_tensors,
    heldout_metrics,
    stream_rows,
    student_logits,
)
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


# ---------------------------------------------------------------------------------------------
# Keeping the weights of trained candidates (Pareto points)


def test_kept_weights_load_back_as_the_trained_student(cache, tokenizer, tmp_path):
    from transformers import AutoModel

    from bortkit.pretrain.export import KEPT_NAME
    from bortkit.pretrain.teacher_head import model_class
    from bortkit.records import load_json

    assert surrogate_error(SPEC, _config(), cache=cache).checkpoint == ""  # off by default
    folder = tmp_path / "kept"
    res = surrogate_error(SPEC, _config(), cache=cache, tokenizer=tokenizer,
                          keep_weights=str(folder))
    path = folder / surrogate.checkpoint_name(SPEC, _config())
    assert res.checkpoint == str(path) and path.name.startswith(
        f"{SPEC.label}-lr0.002-wd0.01-wu0.06-bs4-s4-seed1-")
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary folder left
    # the whole student (restricted head + vocab.json) reloads and scores the same held-out e
    student = model_class().from_pretrained(path)
    _, held, log_u = cached_tensors(cache, "cpu")
    again = heldout_metrics(student_logits(student), held, log_u)
    assert again.kl == pytest.approx(res.kl, rel=1e-5)
    # its encoder loads with plain transformers, shaped like the candidate
    encoder = AutoModel.from_pretrained(path)
    got = encoder.config
    assert (got.num_hidden_layers, got.num_attention_heads, got.hidden_size,
            got.intermediate_size) == SPEC.dai
    assert (path / "tokenizer_config.json").is_file()
    assert load_json(path / KEPT_NAME)["error"] == res.error
    # the same evaluation again reuses the folder; another seed gets its own
    assert surrogate_error(SPEC, _config(), cache=cache, tokenizer=tokenizer,
                           keep_weights=str(folder)).checkpoint == str(path)
    other = surrogate_error(SPEC, _config(theta=dataclasses.replace(THETA, seed=2)), cache=cache,
                            tokenizer=tokenizer, keep_weights=str(folder))
    assert other.checkpoint and other.checkpoint != res.checkpoint
    # settings that change the student (here the init) never share a name
    assert (surrogate.checkpoint_name(SPEC, _config(init="random"))
            != surrogate.checkpoint_name(SPEC, _config()))
    assert (surrogate.checkpoint_name(SPEC, _config(device="cuda"))
            == surrogate.checkpoint_name(SPEC, _config()))


def test_kept_weights_stay_under_the_disk_bound(cache, tokenizer, tmp_path, caplog,
                                                monkeypatch):
    monkeypatch.setattr(surrogate, "_WARNED_FULL", set())
    folder = tmp_path / "kept"
    folder.mkdir()
    mine = folder / "mine.bin"
    mine.write_bytes(b"x" * 2000)  # the user's own file: never deleted
    with caplog.at_level("WARNING", logger="bortkit.pretrain.surrogate"):
        for seed in (1, 2):
            res = surrogate_error(SPEC, _config(theta=dataclasses.replace(THETA, seed=seed)),
                                  cache=cache, tokenizer=tokenizer, keep_weights=str(folder),
                                  keep_max_mb=0.001)
            assert res.checkpoint == "" and math.isfinite(res.error)
    assert [p.name for p in folder.iterdir()] == ["mine.bin"] and mine.stat().st_size == 2000
    warnings = [r for r in caplog.records if "keep_max_mb" in r.getMessage()]
    assert len(warnings) == 1 and "nothing was deleted" in warnings[0].getMessage()


def test_evaluator_keeps_weights_and_hands_the_path_on(monkeypatch, cache, tmp_path):
    from bortkit.search.result import Candidate, Trial
    from bortkit.widgets.pareto import export_checkpoint

    monkeypatch.setattr(surrogate, "default_cache", lambda config: cache)
    plain = SurrogateEvaluator(batch_size=4, seq_len=32, smoke=True, device="cpu")
    keep = dataclasses.replace(plain, keep_weights=str(tmp_path / "kept"))
    assert keep.version == plain.version  # keeping weights changes no result
    got = keep.evaluate(SPEC, THETA, steps=4, seed=1)
    assert got.checkpoint and Path(got.checkpoint).parent == tmp_path / "kept"
    assert plain.evaluate(SPEC, THETA, steps=4, seed=1).checkpoint == ""
    assert EvalResult.from_dict({"error": 0.5, "loss": 1.0, "seconds": 2.0}).checkpoint == ""
    with pytest.raises(ValueError, match="keep_max_mb"):
        dataclasses.replace(plain, keep_max_mb=0.0)
    # the explorer's export of that candidate is a folder transformers loads
    from transformers import AutoModel

    trial = Trial(THETA, got.error, got.loss, got.seconds, 1.0, False, checkpoint=got.checkpoint)
    cand = Candidate(0, SPEC, 1, 1, 0, 0, (trial,), 4)
    target = export_checkpoint(cand, tmp_path / "export")
    assert AutoModel.from_pretrained(target).config.hidden_size == SPEC.H
