"""Teacher: the shipped MiniLM encoder loads offline; the untied restricted head is warm-started,
saved and reloaded with its vocabulary; the build announces itself once, checkpoints, and resumes
after an interrupt (SIGKILL included) without redoing steps; the cache is keyed and atomic."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain import teacher, teacher_head
from bortkit.pretrain.teacher import TeacherConfig, TeacherResult, adapt_teacher, check_vocab
from bortkit.pretrain.teacher_head import TeacherEval, restricted_logits, teacher_vocab
from bortkit.pretrain.teacher_train import latest_checkpoint
from bortkit.pretrain.vocab import Vocab

_SENTENCES = [
    "the cat sat on the mat and the dog sat on the rug .",
    "a bird sang in the tree and the sun shone on the hill .",
    "the river ran to the sea and the boat went with it .",
    "she read the book in the garden and he wrote a letter .",
]
_TRAIN = [" ".join(_SENTENCES[i % 4] for i in range(j, j + 12)) for j in range(40)]
_HELD = [" ".join(_SENTENCES[(i * 3) % 4] for i in range(40))]
# A tiny build: seconds on one thread; fp32 so that it is bitwise repeatable on any CPU.
_TINY = dict(seq_len=32, batch_size=4, eval_blocks=8, eval_every=0, precision="fp32",
             device="cpu", head_lr=3e-3, body_lr=1e-3)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_corpus() -> Corpus:
    return Corpus.from_texts(_TRAIN, _HELD)


def _save_tiny_encoder(path, tokenizer) -> None:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(path)
    tokenizer.save_pretrained(path)


@pytest.fixture()
def tiny_checkpoint(tmp_path, tokenizer):
    path = tmp_path / "tiny-ckpt"
    _save_tiny_encoder(path, tokenizer)
    return path


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BORTKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "teacher"


def test_minilm_loads_offline_without_an_mlm_head(tokenizer):
    from safetensors import safe_open

    path = teacher.minilm_dir()
    assert len(tokenizer) == 30522 and tokenizer.mask_token == "[MASK]"
    with safe_open(str(path / "model.safetensors"), "pt") as fh:
        names = list(fh.keys())
    assert any("encoder.layer.5." in n for n in names)
    assert not any(n.startswith("cls.") for n in names)  # why the teacher must be built


def test_head_is_untied_and_warm_started(tiny_checkpoint, tokenizer):
    import torch
    from transformers import BertModel

    encoder = BertModel.from_pretrained(tiny_checkpoint, add_pooling_layer=False)
    vocab = Vocab(ids=(0, 100, 101, 1996, 4937), counts=(0, 0, 0, 30, 10), coverage=1.0,
                  full_size=30522)
    model = teacher_head.from_encoder(encoder, vocab)
    emb = model.bert.embeddings.word_embeddings.weight
    dec = model.cls.decoder
    assert dec.weight.shape == (5, 32) and dec.weight.data_ptr() != emb.data_ptr()
    assert torch.equal(dec.weight, emb[list(vocab.ids)])
    log_u = torch.tensor(vocab.unigram()).log().float()
    assert torch.allclose(dec.bias, log_u - log_u.mean())
    assert teacher_vocab(model) is vocab
    ids = torch.randint(0, 30522, (3, 10))
    positions = torch.zeros(3, 10, dtype=torch.bool)
    positions[0, 1] = positions[2, 4] = positions[2, 7] = True
    assert restricted_logits(model, ids, None, positions).shape == (3, 5)  # (n_masked, K)
    labels = torch.tensor([1996, 7, -100, 0])  # kept, not kept, unmasked, [PAD]
    assert teacher_head.restricted_labels(model, labels).tolist() == [3, -100, -100, 0]
    with pytest.raises(TypeError, match="no restricted Vocab"):
        teacher_vocab(encoder)


def test_build_announces_once_caches_and_reloads_vocab_and_head(cache, tiny_checkpoint,
                                                                 tiny_corpus, caplog):
    import torch

    config = TeacherConfig(steps=4, head_only_steps=1, checkpoint_every=2, **_TINY)
    steps: list[int] = []
    kw = dict(checkpoint=tiny_checkpoint, progress=False,
              callback=lambda step, loss: steps.append(step))
    with caplog.at_level(logging.WARNING, logger="bortkit.pretrain.teacher"):
        first = adapt_teacher(tiny_corpus, config, **kw)
    notes = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(notes) == 1, notes
    for words in ("building the MLM teacher", "has no MLM head", "expect ", str(cache),
                  "--teacher-steps", "TeacherConfig(steps=...)"):
        assert words in notes[0]
    assert steps == [1, 2, 3, 4] and first.resumed_from == ()
    assert sorted(p.name for p in cache.iterdir()) == [first.config.key()]  # no build/temp left
    assert TeacherResult.load(first.path) == first
    assert [h.step for h in first.history] == [4] and first.after == first.history[-1]
    assert 0 < first.after.coverage <= 1 and first.vocab_size == first_vocab(first).size

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bortkit.pretrain.teacher"):
        again = adapt_teacher(tiny_corpus, config, **kw)
        model, tok = teacher.load_teacher(config, checkpoint=tiny_checkpoint,
                                          corpus=tiny_corpus, progress=False)
    assert again == first and steps == [1, 2, 3, 4] and not caplog.records  # cached: silent
    assert not model.training and len(tok) == 30522
    assert teacher_vocab(model) == first_vocab(first)
    assert model.cls.decoder.weight.shape == (first.vocab_size, 32)
    # head weights round-trip through save_pretrained/from_pretrained
    model.save_pretrained(cache.parent / "copy")
    back = teacher_head.model_class().from_pretrained(cache.parent / "copy")
    for (name, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), name
    assert teacher_vocab(back) == teacher_vocab(model)


def first_vocab(result: TeacherResult) -> Vocab:
    return Vocab.load(os.path.join(result.path, teacher_head.VOCAB_NAME))


def test_interrupted_build_resumes_where_it_stopped(cache, tiny_checkpoint, tiny_corpus,
                                                    caplog):
    # dropout on: the resumed run must restore the torch RNG too to match the clean run
    config = TeacherConfig(steps=6, head_only_steps=1, checkpoint_every=2, dropout=0.1, **_TINY)
    steps: list[int] = []

    def interrupt_at_5(step, loss):
        steps.append(step)
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapt_teacher(tiny_corpus, config, checkpoint=tiny_checkpoint, progress=False,
                      callback=interrupt_at_5)
    key = config.replace(checkpoint=teacher._checkpoint_id(tiny_checkpoint),
                         corpus_key=tiny_corpus.key).key()
    assert not (cache / key).exists()  # never a half-built teacher in the cache
    assert latest_checkpoint(cache / f"{key}.build").name.endswith("0000004")
    steps.clear()
    with caplog.at_level(logging.WARNING, logger="bortkit.pretrain.teacher"):
        resumed = adapt_teacher(tiny_corpus, config, checkpoint=tiny_checkpoint,
                                progress=False, callback=lambda step, loss: steps.append(step))
    assert steps == [5, 6] and resumed.resumed_from == (4,)
    assert "resuming at step 4" in caplog.records[-1].getMessage()
    # the same numbers as an uninterrupted build: nothing redone, nothing skipped
    clean = adapt_teacher(tiny_corpus, config, checkpoint=tiny_checkpoint, progress=False,
                          cache=False)
    assert resumed.train_losses == pytest.approx(clean.train_losses, rel=1e-5)
    assert resumed.after.loss == pytest.approx(clean.after.loss, rel=1e-5)


_BUILD = """
import sys, time
import torch
torch.set_num_threads(1)
from bortkit.data.corpus import Corpus
from bortkit.pretrain.teacher import TeacherConfig, adapt_teacher
ckpt, log, out = sys.argv[1], sys.argv[2], sys.argv[3]
train, held = {train!r}, {held!r}
def note(step, loss):
    with open(log, "a") as fh:
        fh.write(f"{{step}}\\n")
    time.sleep(float(sys.argv[4]))
cfg = TeacherConfig(steps=12, head_only_steps=1, checkpoint_every=2, **{tiny!r})
res = adapt_teacher(Corpus.from_texts(train, held), cfg, checkpoint=ckpt, progress=False,
                    callback=note)
res.save(out)
"""


@pytest.mark.slow
def test_sigkill_mid_build_then_rerun_continues_the_step_count(cache, tiny_checkpoint, tmp_path):
    log, out = tmp_path / "steps.log", tmp_path / "result.json"
    code = _BUILD.format(train=_TRAIN, held=_HELD, tiny=_TINY)
    cmd = [sys.executable, "-c", code, str(tiny_checkpoint), str(log), str(out)]
    env = {**os.environ, "BORTKIT_CACHE": str(cache.parent)}
    proc = subprocess.Popen(cmd + ["0.3"], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait for the checkpoint of step 4
            builds = list(cache.glob("*.build")) if cache.is_dir() else []
            done = latest_checkpoint(builds[0]) if builds else None
            if done is not None and int(done.name.split("-")[-1]) >= 4:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "the build finished before it could be killed"
    killed_at = [int(s) for s in log.read_text().split()]
    saved = int(latest_checkpoint(builds[0]).name.split("-")[-1])
    assert 4 <= saved <= killed_at[-1] < 12

    subprocess.run(cmd + ["0"], env=env, check=True, timeout=300)
    rerun = [int(s) for s in log.read_text().split()][len(killed_at):]
    assert rerun == list(range(saved + 1, 13))  # continues; step 1 is not redone
    result = TeacherResult.load(out)
    assert result.resumed_from == (saved,) and len(result.train_losses) == 12
    assert sorted(p.name for p in cache.iterdir()) == [result.config.key()]


def test_restricted_accuracy_reports_coverage(tokenizer, tiny_corpus):
    import torch
    from transformers import BertConfig, BertModel

    from bortkit.pretrain.mlm import corpus_blocks
    from bortkit.pretrain.vocab import build_vocab

    blocks = corpus_blocks(tiny_corpus, tokenizer, seq_len=32)
    vocab = build_vocab(blocks.train, full_size=len(tokenizer),
                        special_ids=tokenizer.all_special_ids, size=3)  # "the", "." and one
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=64,
                                   max_position_embeddings=64), add_pooling_layer=False)
    model = teacher_head.from_encoder(encoder, vocab)
    ev = teacher_head.evaluate_teacher(model, blocks.heldout, tokenizer, batch_size=4)
    assert 0 < ev.coverage < 0.6 and 0 <= ev.accuracy <= 1
    assert TeacherEval.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev


def test_provenance_of_another_corpus_is_refused(tiny_corpus):
    with pytest.raises(ValueError, match="corpus_key"):
        adapt_teacher(tiny_corpus, TeacherConfig(corpus_key="other"))


def test_config_key_tracks_weight_settings():
    base = TeacherConfig()
    assert base.key() == TeacherConfig().key()
    for change in ({"head_lr": 1e-4}, {"body_lr": 1e-5}, {"head_only_steps": 0},
                   {"vocab_size_kept": 4096}, {"corpus_key": "x"}, {"precision": "fp32"},
                   {"dropout": 0.1}, {"dropout": None}, {"train_mlm_probability": 0.3},
                   {"steps": 1500}):
        assert TeacherConfig(**change).key() != base.key(), change
    for same in ({"eval_every": 7}, {"checkpoint_every": 3}, {"device": "cpu"}):
        assert TeacherConfig(**same).key() == base.key(), same  # not the weights
    assert TeacherConfig.from_dict(TeacherConfig.smoke().to_dict()) == TeacherConfig.smoke()
    assert TeacherConfig.smoke().steps == 5
    assert (base.steps, base.dropout) == (2000, 0.0)  # the measured 41.0% build


@pytest.mark.parametrize("kw, match", [
    ({"steps": 0}, "TeacherConfig.steps must be >= 1"),
    ({"batch_size": -1}, "TeacherConfig.batch_size must be >= 1"),
    ({"head_lr": 0.0}, "TeacherConfig.head_lr must lie in"),
    ({"body_lr": -1.0}, "TeacherConfig.body_lr must lie in"),
    ({"warmup_ratio": 1.0}, "TeacherConfig.warmup_ratio"),
    ({"eval_every": -1}, "TeacherConfig.eval_every"),
    ({"steps": 10, "head_only_steps": 10}, "head_only_steps=10 must be less than steps"),
    ({"precision": "fp16"}, "TeacherConfig.precision"),
    ({"vocab_size_kept": 0}, "TeacherConfig.vocab_size_kept"),
    ({"dropout": 1.0}, "TeacherConfig.dropout"),
    ({"train_mlm_probability": 0.0}, "TeacherConfig.train_mlm_probability"),
])
def test_bad_settings_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        TeacherConfig(**kw)


def test_precision_resolves():
    assert teacher_head.resolve_precision("fp32", "cpu") == "fp32"
    assert teacher_head.resolve_precision("auto", "cpu") in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision must be one of"):
        teacher_head.resolve_precision("half", "cpu")


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


@pytest.mark.slow
def test_cli_builds_then_reports_the_cached_teacher(cache, tiny_checkpoint, capsys):
    from bortkit.cli import main

    argv = ["teacher", "--steps", "2", "--head-only-steps", "1", "--checkpoint",
            str(tiny_checkpoint), "--precision", "fp32", "--device", "cpu", "--no-progress"]
    assert main(argv + ["--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["config"]["steps"] == 2 and record["path"].startswith(str(cache))
    assert 0 < record["after"]["coverage"] <= 1
    assert main(argv) == 0  # cached: reported, not rebuilt
    out = capsys.readouterr().out
    assert "restricted vocabulary" in out and "of masked positions" in out
