"""KD pretraining engine: learning, vocabulary checks, exact resume after SIGKILL, export, the
typed hand-off (`PretrainResult.load`), resolving the architecture, and the learning-curve plot
record. Tiny configs, a random-init teacher."""

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
from bortkit.cli import main
from bortkit.cli.pretrain import _corpus
from bortkit.data.corpus import Corpus
from bortkit.plots import training
from bortkit.pretrain import distill, mlm
from bortkit.search import FptasConfig, SearchSpace, SyntheticEvaluator, save_result, search

ROOT = Path(__file__).resolve().parents[2]
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
    return mlm.corpus_blocks(corpus, tokenizer, seq_len=32, max_heldout_blocks=16)


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


def _config(**changes):
    """A run on the 32-token test blocks."""
    return pt.PretrainConfig(seq_len=32, **changes)


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


def test_pretrain_kd_and_mlm_learn_and_record_curve(tmp_path, tokenizer, teacher, blocks):
    for objective in ("kd", "mlm"):
        cfg = _config(steps=12, batch_size=4, lr=3e-3, eval_every=6, objective=objective)
        out = tmp_path / objective
        res = pt.pretrain(_student(tokenizer), cfg, tokenizer=tokenizer,
                          train_blocks=blocks.train, heldout_blocks=blocks.heldout,
                          teacher=teacher, progress=False, output_dir=out)
        assert res.curve.steps == tuple(range(1, 13))
        assert res.curve.eval_steps == (6, 12)
        assert res.curve.train_mlm[-1] < res.curve.train_mlm[0]
        if objective == "mlm":
            assert set(res.curve.train_kd) == {0.0}
        else:
            assert all(k > 0 for k in res.curve.train_kd)
        assert pt.PretrainResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res
        # the typed hand-off: the run folder gives the record, the record the model folder
        assert pt.PretrainResult.load(out) == res
        assert res.spec == ArchSpec(2, 2, 32, 64)
        model_dir = Path(res.model_dir)
        assert model_dir.is_absolute() and (model_dir / "config.json").is_file()


def test_blocks_must_match_config_seq_len(tokenizer, teacher, blocks):
    with pytest.raises(ValueError, match="seq_len=64"):
        pt.pretrain(_student(tokenizer), pt.PretrainConfig(steps=1, batch_size=2),
                    tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=teacher, progress=False)


def test_export_replaces_a_folder_whole(tmp_path, tokenizer):
    first = pt.export(_student(tokenizer, seed=0), tokenizer, tmp_path / "model")
    (first / "stale.txt").write_text("from the first export")
    second = pt.export(_student(tokenizer, seed=1), None, tmp_path / "model")
    assert first == second == (tmp_path / "model").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp folder left
    assert not (second / "stale.txt").exists() and (second / "config.json").is_file()


def test_hidden_state_distillation_runs(tokenizer, teacher, blocks):
    cfg = _config(steps=3, batch_size=4, objective="hidden", eval_every=0)
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
                    config=_config(steps=1, batch_size=2))
    small_teacher = BertForMaskedLM(ArchSpec(1, 2, 32, 64, vocab_size=1000).to_bert_config())
    with pytest.raises(ValueError, match="vocab"):
        pt.pretrain(_student(tokenizer), tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=small_teacher, progress=False,
                    config=_config(steps=1, batch_size=2))


@pytest.mark.parametrize("field,value", [("steps", 0), ("batch_size", 0), ("lr", 0.0),
                                         ("warmup_ratio", 1.0), ("objective", "x"),
                                         ("kd_variant", "x"), ("mlm_probability", 0.0),
                                         ("clip_weights", 0.0), ("keep_checkpoints", 0),
                                         ("eval_every", -1), ("seq_len", 4),
                                         ("max_train_blocks", 0), ("grad_clip", 0.0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        pt.PretrainConfig(**{field: value})


def test_results_written_before_the_redesign_still_load(tmp_path):
    # result.json of 2026-11: no spec, no data-slice fields, MlmEval with its derived "error"
    old = {"config": {k: v for k, v in pt.PretrainConfig().to_dict().items()
                      if k not in ("seq_len", "eval_blocks", "max_train_blocks", "max_chars")},
           "curve": {"steps": [1], "train_loss": [2.0]},
           "final": {"accuracy": 0.25, "loss": 3.0, "n_tokens": 10, "error": 0.75},
           "final_train_loss": 2.0, "steps": 1, "seconds": 0.5, "n_params": 7,
           "resumed_from": 0, "model_dir": None, "extra": {}}
    (tmp_path / "result.json").write_text(json.dumps(old))
    res = pt.PretrainResult.load(tmp_path)
    assert res.spec is None and res.config == pt.PretrainConfig()
    assert res.final == mlm.MlmEval(0.25, 3.0, 10) and res.curve.train_loss == (2.0,)


def test_config_smoke_and_round_trip():
    smoke = pt.PretrainConfig.smoke()
    assert smoke.steps < pt.PretrainConfig().steps and smoke.max_train_blocks is not None
    assert pt.PretrainConfig.smoke(seed=3).seed == 3
    assert pt.PretrainConfig.from_dict(smoke.to_dict()) == smoke


def test_checkpoint_needs_output_dir(tokenizer, teacher, blocks):
    with pytest.raises(ValueError, match="output_dir"):
        pt.pretrain(_student(tokenizer), tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=teacher, progress=False,
                    config=_config(steps=2, batch_size=2, checkpoint_every=1))


def test_resume_rejects_changed_config(tmp_path, tokenizer, teacher, blocks):
    kw = dict(tokenizer=tokenizer, train_blocks=blocks.train, heldout_blocks=blocks.heldout,
              teacher=teacher, progress=False, output_dir=tmp_path)
    pt.pretrain(_student(tokenizer), _config(
        steps=4, batch_size=2, checkpoint_every=2, eval_every=0), **kw)
    with pytest.raises(ValueError, match="lr"):
        pt.pretrain(_student(tokenizer), _config(
            steps=4, batch_size=2, checkpoint_every=2, eval_every=0, lr=0.5), resume=True, **kw)


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
    a, b = pt.PretrainResult.load(killed), pt.PretrainResult.load(whole)
    assert 0 < a.resumed_from < 30 and b.resumed_from == 0
    assert a.final_train_loss == pytest.approx(b.final_train_loss, rel=1e-5, abs=1e-6)
    assert a.curve.steps == b.curve.steps and a.curve.eval_steps == b.curve.eval_steps
    assert torch.allclose(torch.tensor(a.curve.train_loss), torch.tensor(b.curve.train_loss),
                          rtol=1e-5, atol=1e-6)
    assert a.final.accuracy == pytest.approx(b.final.accuracy)
    # the export reloads through the Auto class and reproduces the final held-out numbers
    model = AutoModelForMaskedLM.from_pretrained(whole / "model")
    assert type(model).__name__ == "BertForMaskedLM"
    held = mlm.corpus_blocks(_corpus(str(corpus_file)), tokenizer, seq_len=32,
                         max_heldout_blocks=16).heldout
    ev = mlm.evaluate_mlm(model, held, tokenizer, batch_size=64, seed=b.config.eval_seed)
    assert ev.accuracy == pytest.approx(b.final.accuracy)
    assert ev.loss == pytest.approx(b.final.loss, rel=1e-4)


def test_resolve_arch(tmp_path):
    assert pt.resolve_arch("2,2,32,64") == ArchSpec(2, 2, 32, 64)
    assert pt.resolve_arch("", fptas_dir="") == pt.resolve_arch("4,4,256,192")
    assert pt.resolve_arch("", default="bert-base") == ArchSpec(12, 12, 768, 3072)
    # an FPTAS output folder gives its chosen shape, through search.load_result
    result = search(SearchSpace.tiny(), FptasConfig(epsilon=0.5, steps=5),
                    evaluator=SyntheticEvaluator(), progress=False)
    save_result(result, tmp_path / "fptas")
    assert pt.resolve_arch("", fptas_dir=tmp_path / "fptas") == result.chosen.spec
    assert pt.resolve_arch(str(tmp_path / "fptas")) == result.chosen.spec
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        pt.resolve_arch(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError):
        pt.resolve_arch("", fptas_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="preset"):
        pt.resolve_arch("no-such-preset")


def test_training_figure_record():
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


def test_teacher_series_and_pretrain_table():
    from bortkit.pretrain.teacher import TeacherConfig, TeacherResult
    from bortkit.pretrain.teacher_head import TeacherEval

    history = (TeacherEval(0.1, 6.0, 100, 0.9, step=0), TeacherEval(0.3, 4.0, 100, 0.9, step=50))
    teacher = TeacherResult(TeacherConfig.smoke(), history[0], history[1], 1.0, 10, 2, 50, 0.9,
                            history)
    series = training.teacher_series(teacher)
    assert series["eval_accuracy"] == ((0, 50), (0.1, 0.3))
    assert series["eval_loss"] == ((0, 50), (6.0, 4.0))
    curve = pt.LearningCurve().add_step(1, 2.0, 2.0, 0.0, 0.1)
    curve = curve.add_eval(1, mlm.MlmEval(0.2, 5.0, 10), 0.8)
    res = pt.PretrainResult(pt.PretrainConfig(objective="mlm"), curve, mlm.MlmEval(0.2, 5.0, 10),
                            2.0, 1, 3.0, 7)
    info = training.pretrain_table_info({"mlm-pca": res}, teacher_accuracy=0.32)
    assert info.rows[0] == ("mlm-pca", "mlm", "pca", "1", "0.200", "0.800", "5.000", "3")
    assert info.rows[-1][0] == "teacher" and info.rows[-1][4] == "0.320"
    assert curve.series("eval_kl") == ((1,), (0.8,))
    fig = training.pretrain_table_figure({"mlm-pca": res})
    assert len(fig.data[0].cells.values[0]) == 1
