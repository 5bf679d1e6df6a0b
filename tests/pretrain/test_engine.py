"""KD pretraining engine: learning, vocabulary checks, exact resume after SIGKILL, export,
the FPTAS surrogate, and the learning-curve plot record. Tiny configs, a random-init teacher."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bortkit import pretrain as pt
from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain import distill, mlm

ROOT = Path(__file__).resolve().parents[1]
TINY = "2,2,32,64"  # D,A,H,I in the teacher's vocabulary (30522)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def paragraphs():
    lee = Path(importlib.util.find_spec("gensim").origin).parent / "test/test_data"
    lines = (lee / "lee_background.cor").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines[:40] if line.strip()]


@pytest.fixture(scope="module")
def corpus(paragraphs):
    return Corpus.from_texts(paragraphs[:-4], paragraphs[-4:])


@pytest.fixture(scope="module")
def blocks(corpus, tokenizer):
    from bortkit.pretrain.surrogate import corpus_blocks

    return corpus_blocks(corpus, tokenizer, seq_len=32, max_heldout_blocks=16)


@pytest.fixture(scope="module")
def teacher(tokenizer):
    from transformers import BertForMaskedLM

    torch.manual_seed(0)
    spec = ArchSpec(2, 2, 32, 64, vocab_size=len(tokenizer), max_position_embeddings=64)
    return BertForMaskedLM(spec.to_bert_config()).eval()


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory, teacher, tokenizer):
    path = tmp_path_factory.mktemp("teacher")
    teacher.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _student(tokenizer, seed=0):
    return distill.build_student(pt.resolve_arch(TINY), tokenizer, seed=seed)


def test_loss_decreases_on_a_fixed_batch(tokenizer, teacher, blocks):
    student = _student(tokenizer)
    module = distill.make_distiller(student, teacher, objective="kd")
    cfg = pt.PretrainConfig()
    batch = blocks.train[:8]
    inputs, labels = mlm.mask_batch(batch, tokenizer, generator=torch.Generator().manual_seed(0))
    attention = torch.ones_like(inputs)
    opt = torch.optim.AdamW(module.parameters(), lr=3e-3)
    module.train()
    losses = []
    for _ in range(25):
        parts = module(inputs, attention, labels, teacher, cfg)
        opt.zero_grad()
        parts.total.backward()
        opt.step()
        losses.append(parts.total.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.7 * losses[0]


def test_pretrain_kd_and_mlm_learn_and_record_curve(tokenizer, teacher, blocks):
    for objective in ("kd", "mlm"):
        cfg = pt.PretrainConfig(steps=12, batch_size=4, lr=3e-3, eval_every=6,
                                objective=objective)
        res = pt.pretrain(_student(tokenizer), tokenizer=tokenizer, train_blocks=blocks.train,
                          heldout_blocks=blocks.heldout, teacher=teacher, config=cfg,
                          progress=False)
        assert res.curve.steps == tuple(range(1, 13))
        assert res.curve.eval_steps == (6, 12)
        assert res.curve.train_mlm[-1] < res.curve.train_mlm[0]
        if objective == "mlm":
            assert set(res.curve.train_kd) == {0.0}
        else:
            assert all(k > 0 for k in res.curve.train_kd)
        assert pt.PretrainResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res


def test_hidden_state_distillation_runs(tokenizer, teacher, blocks):
    cfg = pt.PretrainConfig(steps=3, batch_size=4, objective="hidden", eval_every=0)
    res = pt.pretrain(_student(tokenizer), tokenizer=tokenizer, train_blocks=blocks.train,
                      heldout_blocks=blocks.heldout, teacher=teacher.bert, config=cfg,
                      progress=False)
    assert res.steps == 3 and all(k > 0 for k in res.curve.train_kd)


def test_vocabulary_mismatch_raises(tokenizer, blocks, teacher):
    with pytest.raises(ValueError, match="vocab"):
        distill.build_student(ArchSpec(2, 2, 32, 64, vocab_size=50265), tokenizer)
    from transformers import BertForMaskedLM

    other = BertForMaskedLM(ArchSpec(1, 2, 32, 64, vocab_size=1000).to_bert_config())
    with pytest.raises(ValueError, match="vocab"):
        pt.pretrain(other, tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=teacher, progress=False,
                    config=pt.PretrainConfig(steps=1, batch_size=2))
    small_teacher = BertForMaskedLM(ArchSpec(1, 2, 32, 64, vocab_size=1000).to_bert_config())
    with pytest.raises(ValueError, match="vocab"):
        pt.pretrain(_student(tokenizer), tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=small_teacher, progress=False,
                    config=pt.PretrainConfig(steps=1, batch_size=2))


@pytest.mark.parametrize("field,value", [("steps", 0), ("batch_size", 0), ("lr", 0.0),
                                         ("warmup_ratio", 1.0), ("objective", "x"),
                                         ("kd_variant", "x"), ("mlm_probability", 0.0),
                                         ("clip_weights", 0.0), ("keep_checkpoints", 0),
                                         ("eval_every", -1)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        pt.PretrainConfig(**{field: value})


def test_checkpoint_needs_output_dir(tokenizer, teacher, blocks):
    with pytest.raises(ValueError, match="output_dir"):
        pt.pretrain(_student(tokenizer), tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=teacher, progress=False,
                    config=pt.PretrainConfig(steps=2, batch_size=2, checkpoint_every=1))


def test_resume_rejects_changed_config(tmp_path, tokenizer, teacher, blocks):
    kw = dict(tokenizer=tokenizer, train_blocks=blocks.train, heldout_blocks=blocks.heldout,
              teacher=teacher, progress=False, output_dir=tmp_path)
    pt.pretrain(_student(tokenizer), config=pt.PretrainConfig(
        steps=4, batch_size=2, checkpoint_every=2, eval_every=0), **kw)
    with pytest.raises(ValueError, match="lr"):
        pt.pretrain(_student(tokenizer), resume=True, config=pt.PretrainConfig(
            steps=4, batch_size=2, checkpoint_every=2, eval_every=0, lr=0.5), **kw)


def _cli_args(out, teacher_dir, corpus_file):
    return ["pretrain", "--arch", TINY, "--steps", "30", "--out", str(out),
            "--teacher", str(teacher_dir), "--corpus-file", str(corpus_file),
            "--batch-size", "4", "--seq-len", "32", "--checkpoint-every", "5",
            "--eval-every", "10", "--eval-blocks", "16", "--lr", "3e-3", "--seed", "7",
            "--threads", "1", "--no-progress"]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path, teacher_dir, paragraphs,
                                                   tokenizer):
    from transformers import AutoModelForMaskedLM

    from bortkit.cli import main

    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("\n\n".join(paragraphs), encoding="utf-8")
    threads = torch.get_num_threads()
    try:
        # 1. a real process, killed with SIGKILL as soon as its first checkpoint exists
        killed = tmp_path / "killed"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "bortkit.cli",
                                 *_cli_args(killed, teacher_dir, corpus_file)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while pt.latest_checkpoint(killed) is None:
            assert proc.poll() is None, "the run ended before writing a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert not (killed / "result.json").exists()
        # 2. resume it; 3. an uninterrupted run with the same inputs
        assert main([*_cli_args(killed, teacher_dir, corpus_file), "--resume"]) == 0
        whole = tmp_path / "whole"
        assert main(_cli_args(whole, teacher_dir, corpus_file)) == 0
    finally:
        torch.set_num_threads(threads)
    a = pt.PretrainResult.from_dict(json.loads((killed / "result.json").read_text()))
    b = pt.PretrainResult.from_dict(json.loads((whole / "result.json").read_text()))
    assert 0 < a.resumed_from < 30 and b.resumed_from == 0
    assert a.final_train_loss == pytest.approx(b.final_train_loss, rel=1e-5, abs=1e-6)
    assert a.curve.steps == b.curve.steps and a.curve.eval_steps == b.curve.eval_steps
    assert torch.allclose(torch.tensor(a.curve.train_loss), torch.tensor(b.curve.train_loss),
                          rtol=1e-5, atol=1e-6)
    assert a.final.accuracy == pytest.approx(b.final.accuracy)
    # the export reloads through the Auto class and reproduces the final held-out numbers
    model = AutoModelForMaskedLM.from_pretrained(whole / "model")
    assert type(model).__name__ == "BertForMaskedLM"
    from bortkit.cli.pretrain import _corpus
    from bortkit.pretrain.surrogate import corpus_blocks

    held = corpus_blocks(_corpus(str(corpus_file)), tokenizer, seq_len=32,
                         max_heldout_blocks=16).heldout
    ev = mlm.evaluate_mlm(model, held, tokenizer, batch_size=64, seed=b.config.eval_seed)
    assert ev.accuracy == pytest.approx(b.final.accuracy)
    assert ev.loss == pytest.approx(b.final.loss, rel=1e-4)


def test_surrogate_error_is_deterministic(tokenizer, teacher, corpus):
    kw = dict(steps=4, theta={"lr": 2e-3}, seed=1, teacher=teacher, tokenizer=tokenizer,
              corpus=corpus, batch_size=4, seq_len=32, eval_blocks=8)
    spec = ArchSpec(1, 2, 32, 64, max_position_embeddings=64)
    one = pt.surrogate_error(spec, **kw)
    two = pt.surrogate_error(spec, **kw)
    assert (one.error, one.loss, one.n_params) == (two.error, two.loss, two.n_params)
    assert 0.0 <= one.error <= 1.0 and one.loss > 0 and one.seconds > 0 and one.steps == 4
    assert pt.SurrogateResult.from_dict(one.to_dict()) == one
    other_seed = pt.surrogate_error(spec, **{**kw, "seed": 2})
    assert other_seed.loss != one.loss


def test_surrogate_rejects_unknown_theta_key(tokenizer, teacher, corpus):
    with pytest.raises(ValueError, match="theta"):
        pt.surrogate_error(ArchSpec(1, 2, 32, 64), steps=1, theta={"learning_rate": 1e-3},
                           teacher=teacher, tokenizer=tokenizer, corpus=corpus)


def test_resolve_arch(tmp_path):
    assert pt.resolve_arch("2,2,32,64") == ArchSpec(2, 2, 32, 64)
    assert pt.resolve_arch("", fptas_dir=tmp_path / "missing") == pt.resolve_arch("4,4,256,192")
    (tmp_path / "chosen_arch.json").write_text(json.dumps(ArchSpec(2, 4, 64, 128).to_dict()))
    assert pt.resolve_arch("", fptas_dir=tmp_path) == ArchSpec(2, 4, 64, 128)
    assert pt.resolve_arch(str(tmp_path)) == ArchSpec(2, 4, 64, 128)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="chosen_arch"):
        pt.resolve_arch(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="preset"):
        pt.resolve_arch("no-such-preset")


def test_training_figure_record():
    from bortkit.plots import training

    a = pt.LearningCurve().add_step(1, 2.0, 1.5, 0.5, 0.1).add_step(2, 1.0, 1.0, 0.2, 0.2)
    a = a.add_eval(2, mlm.MlmEval(0.25, 3.0, 10))
    runs = {"KD": a, "MLM": {"train_loss": ([1, 2], [3.0, 2.5]), "eval_error": ([2], [0.8])}}
    info = training.curves_info(runs, metrics=("train_loss", "eval_error"))
    assert info.metrics == ("train_loss", "eval_error")
    assert info.for_metric("eval_error") == (
        training.CurveSeries("KD", "eval_error", (2,), (0.75,)),
        training.CurveSeries("MLM", "eval_error", (2,), (0.8,)))
    fig = training.training_figure(runs)
    assert len(fig.data) == 4
    assert fig.layout.xaxis.title.text == "step"
    assert fig.layout.yaxis2.title.text == training.LABELS["eval_error"]
    with pytest.raises(ValueError, match="metric"):
        training.curves_info({"KD": a}, metrics=("nope",))
