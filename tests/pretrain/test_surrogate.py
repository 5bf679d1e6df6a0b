"""The FPTAS surrogate: `surrogate_error(spec, config)` is deterministic and typed, and
`SurrogateEvaluator` adapts it to the search's Evaluator protocol. Tiny configs, a random-init
teacher (the evaluator's cached default teacher and corpus are replaced by the test's)."""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
from pathlib import Path

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain import surrogate
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


@pytest.fixture(scope="module")
def corpus():
    lee = Path(importlib.util.find_spec("gensim").origin).parent / "test/test_data"
    lines = (lee / "lee_background.cor").read_text(encoding="utf-8").splitlines()
    paragraphs = [line.strip() for line in lines[:40] if line.strip()]
    return Corpus.from_texts(paragraphs[:-4], paragraphs[-4:])


@pytest.fixture(scope="module")
def teacher(tokenizer):
    from transformers import BertForMaskedLM

    torch.manual_seed(0)
    spec = ArchSpec(2, 2, 32, 64, vocab_size=len(tokenizer), max_position_embeddings=64)
    return BertForMaskedLM(spec.to_bert_config()).eval()


def _config(**changes):
    return SurrogateConfig.smoke(theta=Theta(seed=1, lr=2e-3, weight_decay=0.01,
                                             warmup_ratio=0.06, batch_size=4), **changes)


def test_surrogate_error_is_deterministic(tokenizer, teacher, corpus):
    kw = dict(teacher=teacher, tokenizer=tokenizer, corpus=corpus)
    one = surrogate_error(SPEC, _config(), **kw)
    two = surrogate_error(SPEC, _config(), **kw)
    assert (one.error, one.loss, one.n_params) == (two.error, two.loss, two.n_params)
    assert 0.0 <= one.error <= 1.0 and one.loss > 0 and one.seconds > 0 and one.steps == 4
    assert SurrogateResult.from_dict(one.to_dict()) == one
    other_seed = surrogate_error(SPEC, _config().replace(
        theta=dataclasses.replace(_config().theta, seed=2)), **kw)
    assert other_seed.loss != one.loss


def test_config_validates_and_round_trips():
    config = _config(options=(("temperature", 1.0),))
    assert SurrogateConfig.from_dict(config.to_dict()) == config
    assert config.pretrain_config().temperature == 1.0
    assert config.pretrain_config().batch_size == 4 and config.pretrain_config().seed == 1
    assert SurrogateConfig.smoke().teacher == TeacherConfig.smoke()
    with pytest.raises(TypeError, match="theta must be a Theta"):
        SurrogateConfig(theta={"lr": 1e-3})
    with pytest.raises(ValueError, match="options"):
        SurrogateConfig(options=(("lr", 1e-3),))  # θ's, not an option
    with pytest.raises(ValueError, match="objective"):
        SurrogateConfig(objective="x")
    with pytest.raises(ValueError, match="steps"):
        SurrogateConfig(steps=0)


def test_seq_len_must_fit_the_spec(tokenizer, teacher, corpus):
    with pytest.raises(ValueError, match="max_position_embeddings"):
        surrogate_error(SPEC, _config(seq_len=128), teacher=teacher, tokenizer=tokenizer,
                        corpus=corpus)


def test_evaluator_adapts_surrogate_error(monkeypatch, tokenizer, teacher, corpus):
    asked = []
    monkeypatch.setattr(surrogate, "default_teacher",
                        lambda config: asked.append(config) or (teacher, tokenizer))
    monkeypatch.setattr(surrogate, "default_corpus", lambda seed=0: corpus)
    ev = SurrogateEvaluator(batch_size=4, seq_len=32, eval_blocks=8, smoke=True)
    assert isinstance(ev, Evaluator)
    got = ev.evaluate(SPEC, Theta(seed=9, lr=2e-3, weight_decay=0.01, warmup_ratio=0.06,
                                  batch_size=64), steps=4, seed=1)
    # the call's seed and the evaluator's |B| replace θ's
    want = surrogate_error(SPEC, _config(), teacher=teacher, tokenizer=tokenizer, corpus=corpus)
    assert isinstance(got, EvalResult)
    assert (got.error, got.loss) == (want.error, want.loss)
    assert asked == [TeacherConfig.smoke()]
    with pytest.raises(TypeError, match="Theta"):
        ev.evaluate(SPEC, {"lr": 1e-3}, steps=1, seed=0)


def test_evaluator_versions_key_their_settings():
    sur = SurrogateEvaluator(batch_size=4)
    assert sur.version == ("surrogate-v1(batch_size=4,seq_len=64,eval_blocks=128,objective=kd,"
                           "smoke=False)")
    assert SurrogateEvaluator(options=(("temperature", 1.0),)).version.endswith(
        ",temperature=1.0)")
    assert pickle.loads(pickle.dumps(sur)) == sur
    with pytest.raises(ValueError, match="objective"):
        SurrogateEvaluator(objective="x")
