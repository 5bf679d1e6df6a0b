"""The profiler's device choice: auto/cpu/cuda, one clear error without a GPU, CUDA timing.

The `cuda` tests run only where torch sees a GPU and skip cleanly elsewhere.
"""

from __future__ import annotations

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.cli import main
from bortkit.measure import cost, latency, machine
from bortkit.measure.latency import ProfileConfig
from bortkit.measure.records import EnvFingerprint, Latency

TINY = ArchSpec(2, 2, 32, 64, vocab_size=100, max_position_embeddings=64)
HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
no_cuda = pytest.mark.skipif(HAS_CUDA, reason="checks the error raised without a GPU")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_device_names_are_accepted_without_a_gpu(device):
    # a config asking for CUDA stays loadable anywhere; availability is checked when measuring
    config = ProfileConfig.smoke(device=device)
    assert ProfileConfig.from_dict(config.to_dict()).device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 0])
def test_bad_device_names(device):
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        ProfileConfig.smoke(device=device)


def test_auto_is_cpu_without_a_gpu_and_recorded():
    lat = latency.measure_latency(TINY, seq_len=8, repeats=1, warmup=0, threads=1)
    assert lat.device == ("cuda" if HAS_CUDA else "cpu")
    env = machine.env_fingerprint(threads=1)
    assert env.device == "cpu" and env.gpu_model is None


def test_records_written_before_the_device_field_still_load():
    lat = latency.measure_latency(TINY, seq_len=8, repeats=1, warmup=0, threads=1, device="cpu")
    old = {k: v for k, v in lat.to_dict().items() if k != "device"}
    assert Latency.from_dict(old) == lat
    env = machine.env_fingerprint(threads=1).to_dict()
    old_env = {k: v for k, v in env.items() if k not in ("device", "gpu_model")}
    assert EnvFingerprint.from_dict(old_env).key() == EnvFingerprint.from_dict(env).key()


@no_cuda
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        latency.measure_latency(TINY, seq_len=8, repeats=1, device="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        latency.profile_presets(ProfileConfig.smoke(device="cuda"), progress=False)
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        cost.measure_costs([TINY], cost.CostConfig.smoke(device="cuda"))


@no_cuda
def test_cli_profile_device_cuda_without_a_gpu(capsys):
    rc = main(["profile", "--presets", "tinybert-4", "--device", "cuda", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("bortkit profile: error: device='cuda' but no CUDA GPU")


def test_cli_profile_rejects_unknown_device(capsys):
    with pytest.raises(SystemExit):
        main(["profile", "--device", "gpu"])
    err = capsys.readouterr().err
    assert "--device" in err and "got 'gpu'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.cuda
@needs_cuda
def test_profile_on_cuda():
    config = ProfileConfig.smoke(presets=("tinybert-4",), device="cuda", gemm_size=256)
    report = latency.profile_presets(config, progress=False)
    lat = report.latencies[0]
    assert lat.device == "cuda" and lat.latency_ms > 0 and lat.n_repeat == config.repeats
    assert report.env.device == "cuda" and report.env.gpu_model
    assert report.peak is not None and report.peak.gflops > 0


@pytest.mark.cuda
@needs_cuda
def test_cost_table_on_cuda(tmp_path):
    specs = [TINY, TINY.replace(num_hidden_layers=1), TINY.replace(hidden_size=64)]
    table = cost.measure_costs(specs, cost.CostConfig.smoke(device="cuda"), cache=tmp_path)
    assert all(lat.device == "cuda" and lat.latency_ms > 0 for lat in table.latencies)
    again = cost.measure_costs(specs, cost.CostConfig.smoke(device="cuda"), cache=tmp_path)
    assert again.n_cached == 3
