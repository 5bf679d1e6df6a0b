"""`--device auto|cpu|cuda` on every command that trains or profiles, and the notebooks' `device`
parameter: parsed by one rule, one line and exit 2 when bad or when no GPU is there, and passed
on to the stage configs and notebooks. No training runs here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bortkit.agora.experiment import TextAgoraConfig
from bortkit.cli import build_parser, main
from bortkit.cli import pretrain as pretrain_cli
from bortkit.run import params, pipeline

no_cuda = pytest.mark.skipif(torch.cuda.is_available(),
                             reason="checks the error raised without a GPU")

# Each command with its required arguments (none of them is run by these tests).
COMMANDS = {
    "pretrain": ["pretrain", "--arch", "bort", "--steps", "1", "--out", "o"],
    "finetune": ["finetune", "--task", "rt", "--spec", "bort", "--out", "o"],
    "agora": ["agora"],
    "run": ["run", "04_finetune"],
    "pipeline": ["pipeline"],
    "fptas": ["fptas", "--out", "o"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_training_command_takes_device(command):
    parser = build_parser()
    assert parser.parse_args(COMMANDS[command]).device == "auto"
    for device in ("cpu", "cuda", "cuda:1"):  # availability is checked when the command runs
        assert parser.parse_args([*COMMANDS[command], "--device", device]).device == device


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_device_is_one_line_exit_2(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*COMMANDS[command], "--device", "tpu"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"bortkit {command}: error: argument --device: must be one of "
                             "auto, cpu, cuda or cuda:N, got 'tpu'")


@no_cuda
@pytest.mark.parametrize("command", COMMANDS)
def test_cuda_without_a_gpu_is_one_clear_error(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*COMMANDS[command], "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"bortkit {command}: error: device='cuda' but no CUDA GPU")
    assert not list(tmp_path.iterdir()), "it fails before writing anything"


def test_pretrain_passes_the_device_to_the_teacher_cache_and_the_loop(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(pretrain_cli, "teacher_cache",
                        lambda config, corpus=None: seen.setdefault("cache", config))
    monkeypatch.setattr(pretrain_cli, "load_tokenizer", lambda: None)
    monkeypatch.setattr(pretrain_cli, "pretrain", lambda *a, **kw: seen.setdefault("kw", kw))
    monkeypatch.setattr(pretrain_cli, "_report", lambda spec, res: None)
    assert main(["pretrain", "--arch", "2,2,32,64", "--steps", "1", "--out", str(tmp_path),
                 "--teacher", "smoke", "--device", "cpu"]) == 0
    assert seen["kw"]["device"] == "cpu"
    assert seen["cache"].device == "cpu" and seen["cache"].teacher.device == "cpu"
    # the device is not part of the teacher's identity: the same cached teacher serves both
    assert seen["cache"].teacher.key() == pretrain_cli._teacher_config("smoke", None).key()


def test_agora_config_trains_both_learners_on_the_device():
    config = TextAgoraConfig.smoke().with_device("cpu")
    assert config.student.device == "cpu" and config.finetune.device == "cpu"
    assert config.teacher == TextAgoraConfig.smoke().teacher  # the sampler's teacher unchanged
    with pytest.raises(ValueError, match="device"):
        TextAgoraConfig.smoke().with_device("tpu")


@pytest.mark.parametrize("notebook", ["01_profile", "02_fptas", "03_pretrain", "04_finetune",
                                      "05_agora"])
def test_training_notebooks_declare_device(notebook):
    rule = params.NOTEBOOK_PARAMS[notebook]["device"]
    for device in ("auto", "cpu", "cuda", "cuda:0"):
        assert params.check_value("device", device, rule) == device
    with pytest.raises(ValueError, match="device='tpu': must be one of auto, cpu, cuda"):
        params.check_value("device", "tpu", rule)
    assert pipeline.device_parameter(notebook, "cpu") == {"device": "cpu"}


def test_device_parameter_of_a_notebook_without_one():
    assert pipeline.device_parameter("00_tour") == {}  # auto: runs as it is
    with pytest.raises(ValueError, match="notebook 00_tour has no device parameter"):
        pipeline.device_parameter("00_tour", "cpu")


def test_pipeline_passes_the_device_to_every_notebook_that_takes_it(monkeypatch, tmp_path):
    ran = []

    def fake_run(notebook, *, output_dir, parameters, progress):
        ran.append((notebook, dict(parameters)))
        return pipeline.NotebookRun(notebook, str(output_dir), "", dict(parameters), 0.0, True)

    monkeypatch.setattr(pipeline, "run_notebook", fake_run)
    monkeypatch.setattr(pipeline.report, "write_index", lambda root: None)
    result = pipeline.run_pipeline("smoke", runs_root=tmp_path, stamp="s", device="cpu")
    assert result.ok and [n for n, _ in ran] == [s.notebook for s in pipeline.PROFILES["smoke"]]
    assert all(p["device"] == "cpu" and p["smoke"] is True for _, p in ran)
    with pytest.raises(ValueError, match="device='gpu'"):
        pipeline.run_pipeline("smoke", runs_root=tmp_path, stamp="t", device="gpu")
    assert not Path(tmp_path / "t").exists()


def test_cli_run_sets_the_notebooks_device_and_p_wins(monkeypatch, tmp_path):
    seen = []

    def fake_run(path, *, output_dir, parameters, progress):
        seen.append(dict(parameters))
        return pipeline.NotebookRun(path.stem, str(output_dir), "", dict(parameters), 0.0, True)

    monkeypatch.setattr(pipeline, "run_notebook", fake_run)
    assert main(["run", "04_finetune", "--out", str(tmp_path), "--device", "cpu"]) == 0
    assert main(["run", "04_finetune", "--out", str(tmp_path), "--device", "cpu",
                 "-p", "device", "auto"]) == 0
    assert [p["device"] for p in seen] == ["cpu", "auto"]
