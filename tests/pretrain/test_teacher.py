"""Teacher: the shipped MiniLM loads offline; adaptation raises held-out masked-token accuracy;
the cache is keyed, atomic and reused; vocabulary mismatches are named."""

from __future__ import annotations

import json

import pytest

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain import teacher
from bortkit.pretrain.teacher import TeacherConfig, TeacherResult, adapt_teacher, check_vocab

_SENTENCES = [
    "the cat sat on the mat and the dog sat on the rug .",
    "a bird sang in the tree and the sun shone on the hill .",
    "the river ran to the sea and the boat went with it .",
    "she read the book in the garden and he wrote a letter .",
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_corpus() -> Corpus:
    train = [" ".join(_SENTENCES[i % 4] for i in range(j, j + 12)) for j in range(40)]
    held = [" ".join(_SENTENCES[(i * 3) % 4] for i in range(40))]
    return Corpus.from_texts(train, held)


def _tiny_model(seed: int = 0):
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    return BertForMaskedLM(cfg)


@pytest.fixture()
def tiny_checkpoint(tmp_path, tokenizer):
    path = tmp_path / "tiny-ckpt"
    _tiny_model().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_minilm_loads_offline_with_fresh_tied_head(tokenizer):
    from transformers import BertForMaskedLM

    path = teacher.minilm_dir()
    assert (path / "model.safetensors").is_file()
    assert len(tokenizer) == 30522 and tokenizer.mask_token == "[MASK]"
    with teacher.quiet_transformers():
        model = BertForMaskedLM.from_pretrained(path)
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    dec = model.cls.predictions.decoder.weight
    assert dec.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()
    check_vocab(model, tokenizer)


def test_adaptation_raises_heldout_accuracy(tokenizer, tiny_corpus):
    model = _tiny_model()
    steps = []
    config = TeacherConfig(steps=20, lr=3e-3, seq_len=32, batch_size=8, eval_every=10)
    res = adapt_teacher(tiny_corpus, config, model=model, tokenizer=tokenizer, progress=False,
                        callback=lambda step, loss: steps.append(step))
    assert steps == list(range(1, 21))
    assert res.after.accuracy > res.before.accuracy + 0.1
    assert res.after.loss < res.before.loss
    assert [h[0] for h in res.history] == [10, 20]
    assert res.path is None and not model.training
    assert TeacherResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res
    assert res.config.checkpoint == "custom-model" and res.config.corpus_key == tiny_corpus.key


def test_cached_teacher_is_reused_and_loaded(tmp_path, monkeypatch, tiny_checkpoint, tiny_corpus):
    monkeypatch.setenv("BORTKIT_CACHE", str(tmp_path / "cache"))
    calls = []
    config = TeacherConfig.smoke(steps=3, seq_len=32, batch_size=4)
    kw = dict(checkpoint=tiny_checkpoint, progress=False, callback=lambda s, loss: calls.append(s))
    first = adapt_teacher(tiny_corpus, config, **kw)
    assert calls == [1, 2, 3] and first.path is not None
    entries = [p.name for p in (tmp_path / "cache" / "teacher").iterdir()]
    assert entries == [first.config.key()]  # no temp folder left
    assert TeacherResult.load(first.path) == first
    again = adapt_teacher(tiny_corpus, config, **kw)
    assert calls == [1, 2, 3] and again.after == first.after  # not retrained
    # the recorded config (provenance filled in) names the same cached run
    assert adapt_teacher(tiny_corpus, first.config, **kw) == first and calls == [1, 2, 3]
    model, tok = teacher.load_teacher(config, checkpoint=tiny_checkpoint, corpus=tiny_corpus,
                                      progress=False)
    assert not model.training and model.config.hidden_size == 32 and len(tok) == 30522


def test_provenance_of_another_corpus_is_refused(tiny_corpus):
    with pytest.raises(ValueError, match="corpus_key"):
        adapt_teacher(tiny_corpus, TeacherConfig(corpus_key="other"), model=object())


def test_interrupted_adaptation_leaves_no_cache(tmp_path, monkeypatch, tiny_checkpoint,
                                                tiny_corpus):
    monkeypatch.setenv("BORTKIT_CACHE", str(tmp_path / "cache"))

    def interrupt(step, loss):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapt_teacher(tiny_corpus, TeacherConfig(steps=3, seq_len=32, batch_size=4),
                      checkpoint=tiny_checkpoint, progress=False, callback=interrupt)
    folder = tmp_path / "cache" / "teacher"
    assert not folder.exists() or not any(folder.iterdir())


def test_config_key_tracks_weight_settings():
    base = TeacherConfig()
    assert base.key() == TeacherConfig().key()
    assert TeacherConfig(lr=1e-4).key() != base.key()
    assert TeacherConfig(corpus_key="x").key() != base.key()
    assert TeacherConfig(eval_every=7).key() == base.key()  # measurement only
    # the smoke teacher is the 5-step adaptation smoke runs always used (same cache entry)
    assert TeacherConfig.smoke().key() == TeacherConfig(steps=5).key()
    assert TeacherConfig.from_dict(TeacherConfig.smoke().to_dict()) == TeacherConfig.smoke()


@pytest.mark.parametrize("kw, match", [
    ({"steps": 0}, "TeacherConfig.steps must be >= 1"),
    ({"batch_size": -1}, "TeacherConfig.batch_size must be >= 1"),
    ({"lr": 0.0}, "TeacherConfig.lr must lie in"),
    ({"warmup_ratio": 1.0}, "TeacherConfig.warmup_ratio"),
    ({"eval_every": -1}, "TeacherConfig.eval_every"),
])
def test_bad_settings_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        TeacherConfig(**kw)


def test_missing_checkpoint_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint folder"):
        teacher.load_tokenizer(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        teacher.load_tokenizer(tmp_path / "empty")


def test_hub_name_offline_raises():
    with pytest.raises(ValueError, match="hub names need network"):
        teacher.load_tokenizer("roberta-large")


def test_load_teacher_rejects_cache_false():
    with pytest.raises(TypeError, match="cache"):  # load_teacher always uses the disk cache
        teacher.load_teacher(cache=False)


def test_check_vocab_mismatch_named(tokenizer):
    check_vocab(ArchSpec(2, 2, 32, 64), tokenizer)
    with pytest.raises(ValueError, match="student vocab_size=50265 .* 30522 tokens"):
        check_vocab(ArchSpec(4, 8, 1024, 768, vocab_size=50265), tokenizer)


def test_check_vocab_against_teacher_model(tokenizer):
    from transformers import BertConfig

    small_teacher = BertConfig(vocab_size=30528)
    with pytest.raises(ValueError, match="teacher's model has 30528 tokens"):
        check_vocab(ArchSpec(2, 2, 32, 64), tokenizer, teacher=small_teacher)
    with pytest.raises(ValueError, match="smaller than its tokenizer"):
        check_vocab(ArchSpec(2, 2, 32, 64, vocab_size=100), tokenizer,
                    teacher=BertConfig(vocab_size=100))


def test_check_vocab_needs_vocab_size(tokenizer):
    with pytest.raises(TypeError, match="student must be an ArchSpec"):
        check_vocab("bert-base", tokenizer)
