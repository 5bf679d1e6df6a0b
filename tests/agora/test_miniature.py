"""Bort in miniature (bortkit.agora.miniature, benchmarks/bort_miniature.py): the config's rules,
the goals and table from a hand-made result, and the whole benchmark end to end at smoke size."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bortkit.agora.experiment import TextAgoraConfig
from bortkit.agora.miniature import miniature_table
from bortkit.agora.miniature_records import ArmRun, LatencyPair, MiniatureConfig, MiniatureResult
from bortkit.arch import ArchSpec, count_params
from bortkit.pretrain.cache import CacheConfig

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bort_miniature.py"


def _result(student_acc=(0.78, 0.80, 0.79), speed=(6.0, 4.0)) -> MiniatureResult:
    teacher, student = ArchSpec(6, 12, 384, 1536), ArchSpec(2, 4, 128, 512)
    arms = tuple(ArmRun("agora", s, a, 1, 100, 900) for s, a in enumerate(student_acc))
    arms += tuple(ArmRun("no-agora", s, 0.7, 0, 0, 400) for s in range(3))
    return MiniatureResult(
        config=MiniatureConfig.smoke(), teacher_spec=teacher, student_spec=student,
        teacher_effective=count_params(teacher).effective,
        student_effective=count_params(student).effective,
        latency=tuple(LatencyPair(1, 64, 10.0 * s, 10.0) for s in speed),
        teacher_test_accuracy=0.80, labeller_dev_accuracy=0.8, arms=arms, pretrain={},
        seconds={"total": 1.0})


def test_goals_and_table_say_by_how_much():
    res = _result()
    goals = res.goals()
    size, speed, acc = goals.values()
    assert size["met"] and size["value"] == pytest.approx(res.size_ratio)
    assert not speed["met"] and speed["value"] == 4.0 and speed["margin"] == -1.0  # slowest
    assert acc["met"] and acc["margin"] == pytest.approx(0.79 - 0.79)
    mean, sd, n = res.accuracy("agora")
    assert (round(mean, 3), round(sd, 3), n) == (0.79, 0.01, 3)
    table = miniature_table(res)
    assert "0.790 ± 0.010 (3)" in table and "-1.00×" in table and "no Agora" in table
    assert "control" not in table  # only the arms that ran
    assert MiniatureResult.from_dict(res.to_dict()) == res
    with pytest.raises(ValueError, match="no arm"):
        res.accuracy("control")


@pytest.mark.parametrize("kw,match", [
    (dict(task="glue"), "task"), (dict(seeds=()), "seeds"), (dict(arms=("control",)), "agora"),
    (dict(arms=("agora", "magic")), "arms"), (dict(latency_batches=(0,)), "latency_batches"),
    (dict(student_shape="2,3,128,512"), "2,3,128,512"),
    (dict(agora=TextAgoraConfig(learner="head")), "learner"),
    (dict(kd_route="disk"), "kd_route"),
    (dict(pool_distill_size=0), "pool_distill_size"),
    (dict(cache=CacheConfig(seq_len=128)), "cache.seq_len=128"),
])
def test_config_validation(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MiniatureConfig(**kw)


def test_smoke_config_round_trips():
    smoke = MiniatureConfig.smoke()
    assert smoke.seeds == (0,) and smoke.agora.student.steps == 4
    assert MiniatureConfig.from_dict(smoke.to_dict()) == smoke
    assert MiniatureConfig.smoke(seeds=(1, 2)).seeds == (1, 2)  # the caller's value wins


@pytest.mark.slow
def test_benchmark_runs_end_to_end_at_smoke_size(tmp_path, capsys, one_thread):
    spec = importlib.util.spec_from_file_location("bort_miniature", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "mini.json"
    assert bench.main(["--smoke", "--threads", "1", "--work-dir", str(tmp_path / "work"),
                       "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| goal |" in printed and "teacher: MiniLM-L6" in printed
    record = json.loads(out.read_text())
    assert {"command", "date_utc", "load_before", "load_after", "table", "goals"} <= set(record)
    result = MiniatureResult.from_dict(record["result"])
    assert {a.arm for a in result.arms} == {"agora", "no-agora", "control", "no-kd",
                                            "pool-distill"}
    distill = [a for a in result.arms if a.arm == "pool-distill"][0]
    assert distill.n_added == 32  # the smoke pool sample, labelled by the labeller
    agora_steps = [a for a in result.arms if a.arm == "agora"][0].n_steps
    assert abs(distill.n_steps - agora_steps) < 2  # equal training steps (integer division)
    agora = [a for a in result.arms if a.arm == "agora"][0]
    control = [a for a in result.arms if a.arm == "control"][0]
    assert control.n_added == agora.n_added and control.n_steps == agora.n_steps  # equal budget
    assert result.latency and all(p.speedup > 0 for p in result.latency)
    assert (tmp_path / "work" / "miniature.json").is_file()
    assert MiniatureResult.load(tmp_path / "work" / "miniature.json") == result


@pytest.mark.slow
def test_rerun_in_the_same_work_dir_reuses_the_classifier_and_the_kd_student(tmp_path,
                                                                              monkeypatch):
    """A rerun resumes after the expensive stages: the teacher classifier and the KD student
    are loaded from the work folder, not trained again (and a changed KD config retrains)."""
    from bortkit.agora import miniature

    config = MiniatureConfig.smoke(arms=("agora",), latency_seqs=(8,))
    first = miniature.run_miniature(config, tmp_path)
    assert first.config.kd_route == "cache" and first.pretrain["steps"] == config.pretrain.steps

    calls = {"finetune": 0, "pretrain": 0}
    real_finetune, real_pretrain = miniature.finetune, miniature.pretrain

    def count(name, real):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(miniature, "finetune", count("finetune", real_finetune))
    monkeypatch.setattr(miniature, "pretrain", count("pretrain", real_pretrain))
    again = miniature.run_miniature(config, tmp_path)
    assert calls == {"finetune": 0, "pretrain": 0}
    assert again.teacher_test_accuracy == first.teacher_test_accuracy
    assert again.pretrain["model_dir"] == first.pretrain["model_dir"]
    changed = config.replace(pretrain=config.pretrain.replace(steps=config.pretrain.steps + 1))
    miniature.run_miniature(changed, tmp_path)
    assert calls == {"finetune": 0, "pretrain": 1}
    other_teacher = config.replace(teacher=config.teacher.replace(head_lr=2e-3))
    assert miniature._kd_source_id(other_teacher) != miniature._kd_source_id(config)
    same_weights = config.replace(teacher=config.teacher.replace(eval_every=7, device="cpu"))
    assert miniature._kd_source_id(same_weights) == miniature._kd_source_id(config)


def test_config_takes_the_budget_pick_by_default(tmp_path):
    config = MiniatureConfig(fptas_dir=str(tmp_path))
    assert config.fptas_pick == "budget" and config.size_budget == 0.2
    with pytest.raises(ValueError, match="fptas_pick"):
        MiniatureConfig(fptas_pick="best")
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"size_budget must lie in \(0, 1\]"):
            MiniatureConfig(size_budget=bad)
