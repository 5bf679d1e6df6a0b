"""kill -9 during long steps, then rerun: the run resumes, nothing finished is lost or redone.

Each test starts the step in a real subprocess and kills it with SIGKILL (from outside, or by
the process itself at a chosen point, so the moment is exact and the test fast), reruns it,
and counts the finished units (optimiser steps, θ runs, Agora rounds). Damaged or foreign
record files are detected and rebuilt with a one-line log notice. (The teacher and
teacher-cache builds have their own kill -9 tests in tests/pretrain.)
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}

pytestmark = pytest.mark.slow


def _child(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that imports this module; it is expected to die."""
    return subprocess.run([sys.executable, "-c", f"import test_faults as t; {code}", *args],
                          env=ENV, capture_output=True, text=True, timeout=300)


def _log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _note(path: Path, line: str) -> None:
    """Append one line and push it to disk before anything else can happen (a kill may)."""
    with open(path, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# --- pretraining ----------------------------------------------------------------------------


def _corpus_file(path: Path) -> Path:
    rng = random.Random(0)
    words = "the a film story plot actor scene good bad long short music light dark".split()
    paras = [" ".join(rng.choice(words) for _ in range(60)) for _ in range(40)]
    path.write_text("\n\n".join(paras), encoding="utf-8")
    return path


def test_pretraining_killed_resumes_from_its_last_checkpoint(tmp_path):
    from bortkit.cli import main
    from bortkit.pretrain import PretrainResult, latest_checkpoint

    out, steps = tmp_path / "run", 60
    argv = ["pretrain", "--arch", "2,2,32,64", "--objective", "mlm", "--steps", str(steps),
            "--out", str(out), "--corpus-file", str(_corpus_file(tmp_path / "c.txt")),
            "--batch-size", "4", "--seq-len", "32", "--checkpoint-every", "5",
            "--eval-every", "0", "--eval-blocks", "4", "--threads", "1", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "bortkit.cli", *argv], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while latest_checkpoint(out) is None:
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 180 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and not (out / "result.json").exists()
    saved = int(latest_checkpoint(out).name.split("-")[1])  # the finished, checkpointed steps
    assert main([*argv, "--resume"]) == 0
    result = PretrainResult.load(out)
    assert result.resumed_from == saved and 0 < saved < steps
    # every step recorded exactly once: the checkpointed ones kept, the rest done after it
    assert result.curve.steps == tuple(range(1, steps + 1))


# --- a fine-tuning sweep --------------------------------------------------------------------


def _easy_task():
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    def split(n, seed):
        rng = random.Random(seed)
        rows = [{"text": f"{['bad', 'good'][y]} {rng.choice(['film', 'plot'])}", "label": y}
                for y in (rng.randrange(2) for _ in range(n))]
        return Dataset.from_list(rows, features=Features(
            {"text": Value("string"), "label": ClassLabel(names=["bad", "good"])}))

    return DatasetDict(train=split(48, 0), validation=split(16, 1), test=split(16, 2))


THETAS = dict(seeds=(0, 1), lrs=(3e-3, 1e-3), batch_sizes=(16,))


def grid(out: str, log: str, kill_at: int = 0):
    """The sweep under test: 4 θ's of a tiny model; each θ's start is noted in `log`, and the
    process SIGKILLs itself as the `kill_at`-th θ starts (0: never)."""
    import importlib

    import torch

    from bortkit.arch import ArchSpec
    from bortkit.finetune import FinetuneConfig
    from bortkit.theta import make_grid

    compare = importlib.import_module("bortkit.finetune.compare")  # the module, not the function
    torch.set_num_threads(1)
    real = compare.finetune

    def noted(source, data, *, theta, **kw):
        _note(Path(log), theta.label)
        if kill_at and len(_log_lines(Path(log))) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(source, data, theta=theta, **kw)

    compare.finetune = noted
    try:
        spec = ArchSpec(2, 2, 32, 64, max_position_embeddings=64)
        return compare.run_grid(spec, _easy_task(), make_grid(**THETAS),
                                config=FinetuneConfig(epochs=1, max_length=16),
                                output_dir=out, progress=False)
    finally:
        compare.finetune = real


def test_finetune_sweep_killed_resumes_after_its_finished_thetas(tmp_path, caplog):
    from bortkit.finetune import FinetuneResult, best_result
    from bortkit.theta import make_grid

    out, log = tmp_path / "grid", tmp_path / "starts.log"
    labels = [t.label for t in make_grid(**THETAS)]
    done = _child("t.grid(*__import__('sys').argv[1:3], kill_at=3)", str(out), str(log))
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert _log_lines(log) == labels[:3]
    finished = sorted(p.stem for p in out.glob("*.json"))
    assert finished == sorted(labels[:2])  # two θ's recorded; the third was in flight
    results = grid(str(out), str(log))
    assert [r.theta.label for r in results] == labels
    starts = _log_lines(log)
    assert starts == labels[:3] + labels[2:], "a finished θ was run again"
    best = best_result(results)
    assert [r.model_dir is not None for r in results] == [r is best for r in results]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [best.theta.label]

    # a truncated record and a foreign one (another task size) are rebuilt, with a notice each
    (out / f"{labels[0]}.json").write_text('{"source": "random')
    foreign = FinetuneResult.load(out / f"{labels[1]}.json").replace(train_size=999)
    foreign.save(out / f"{labels[1]}.json")
    with caplog.at_level(logging.WARNING, logger="bortkit.finetune.compare"):
        again = grid(str(out), str(log))
    assert _log_lines(log)[len(starts):] == labels[:2]
    notices = [r.message for r in caplog.records]
    assert len(notices) == 2 and all(m.startswith("redoing ") for m in notices)
    assert "not a readable JSON file" in notices[0] and "999 examples" in notices[1]
    assert [r.theta for r in again] == [r.theta for r in results]


# --- an Agora run ---------------------------------------------------------------------------


def agora(ckpt: str, log: str, kill_at: int = 0):
    """The torus toy through `loop.augment` with a checkpoint folder; each sampling call (one
    per round but the last) is noted in `log` with the round's seed, and the process SIGKILLs
    itself in the middle of the `kill_at`-th one (0: never)."""
    from bortkit.agora import loop, torus

    cfg = torus.TorusConfig.smoke()
    data = torus.make_torus(n_train=cfg.n_train, n_dev=cfg.n_dev, n_test=cfg.n_test,
                            coverage=cfg.coverage, seed=0)

    class NotedSampler(torus.TorusSampler):
        def sample(self, sources, *, n_per_source, band, seed):
            _note(Path(log), str(seed))
            if kill_at and len(_log_lines(Path(log))) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().sample(sources, n_per_source=n_per_source, band=band, seed=seed)

    return loop.augment(
        torus.KnnLearner(), (data.train_x, data.train_y), (data.dev_x, data.dev_y),
        torus.torus_thetas(cfg.n_thetas), sampler=NotedSampler(sigma=cfg.sigma, R=data.R,
                                                               r=data.r),
        labeller=torus.TorusLabeller(kind="knn", R=data.R, r=data.r, seed=0),
        config=cfg.agora, seed=0, progress=False, checkpoint_dir=ckpt), data


def test_agora_killed_mid_round_resumes_after_its_last_finished_round(tmp_path, caplog):
    from bortkit.agora.records import AgoraRound
    from bortkit.agora.torus import KnnLearner

    ckpt, log = tmp_path / "rounds", tmp_path / "samples.log"
    done = _child("t.agora(*__import__('sys').argv[1:3], kill_at=3)", str(ckpt), str(log))
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert sorted(p.name for p in ckpt.glob("round-*.json")) == ["round-000.json",
                                                                  "round-001.json"]
    before = _log_lines(log)
    result, data = agora(str(ckpt), str(log))
    whole, _ = agora(str(tmp_path / "whole"), str(tmp_path / "whole.log"))
    assert result.to_dict() == whole.to_dict(), "the resumed run must equal an uninterrupted one"
    # rounds 0 and 1 sampled once each; round 2 (killed mid-sampling) again; nothing else twice
    after = _log_lines(log)[len(before):]
    assert before[:2] + after == _log_lines(tmp_path / "whole.log")
    assert after[0] == before[2] and len(after) == len(_log_lines(tmp_path / "whole.log")) - 2
    # the best model (from a replayed round) is refitted and predicts like the original
    learner = KnnLearner()
    assert (learner.predict(result.best_model, data.test_x)[0]
            == learner.predict(whole.best_model, data.test_x)[0]).all()

    # a truncated round file: that round and the later ones are redone, with one notice
    n_rounds = len(result.rounds)
    (ckpt / "round-002.json").write_text('{"index": 2, "thet')
    with caplog.at_level(logging.WARNING, logger="bortkit.agora.resume"):
        again, _ = agora(str(ckpt), str(log))
    assert again.to_dict() == whole.to_dict()
    assert [r.message.split(":")[0] for r in caplog.records] == ["redoing Agora from round 2"]
    assert AgoraRound.load(ckpt / "round-002.json") == whole.rounds[2]
    # a checkpoint of another run (another seed) is replaced, with one notice
    caplog.clear()
    start = json.loads((ckpt / "agora_run.json").read_text())
    (ckpt / "agora_run.json").write_text(json.dumps({**start, "seed": 1}))
    with caplog.at_level(logging.WARNING, logger="bortkit.agora.resume"):
        third, _ = agora(str(ckpt), str(log))
    assert len(third.rounds) == n_rounds and len(caplog.records) == 1
    assert "checkpoint of another run" in caplog.records[0].message
