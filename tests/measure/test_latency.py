"""The profiler: record structure, speed-up arithmetic, validation, figures and the CLI.

Latency tests assert structure (positive, n_repeat respected, conditions recorded), never speed.
"""

from __future__ import annotations

import json

import pytest

from bortkit import arch
from bortkit.arch import ArchSpec
from bortkit.cli import main
from bortkit.measure import latency, machine, paper
from bortkit.measure.latency import ProfileConfig
from bortkit.measure.records import EnvFingerprint, GemmPeak, Latency, ProfileReport
from bortkit.plots import profile as profile_plots

TINY = ArchSpec(2, 2, 32, 64, vocab_size=100, max_position_embeddings=64)


def _env(threads: int = 1) -> EnvFingerprint:
    return EnvFingerprint(
        cpu_model="test cpu",
        n_cores=2,
        torch_version="t",
        transformers_version="x",
        python_version="3",
        platform="p",
        threads=threads,
        load_avg_1m=0.0,
    )


def _lat(name: str, ms: float, spec: ArchSpec = TINY) -> Latency:
    """A hand-made record: p25/p75 at ±10%, min/max at ±20%."""
    return Latency(
        name=name,
        spec=spec,
        latency_ms=ms,
        p25_ms=0.9 * ms,
        p75_ms=1.1 * ms,
        min_ms=0.8 * ms,
        max_ms=1.2 * ms,
        std_ms=0.1 * ms,
        n_repeat=3,
        n_warmup=1,
        threads=1,
        batch_size=1,
        seq_len=16,
        n_params=arch.count_params(spec).total,
        n_ops=10,
        matmul_flops=8,
        achieved_gflops=1.0,
        pct_of_peak=None,
        times_ms=(0.8 * ms, ms, 1.2 * ms),
    )


def _report() -> ProfileReport:
    lats = (
        _lat("bert-base", 144.0, arch.PRESETS["bert-base"]),
        _lat("bert-large", 458.0, arch.PRESETS["bert-large"]),
        _lat("bort", 36.0, arch.PRESETS["bort"]),
    )
    peak = GemmPeak(gflops=200.0, median_gflops=190.0, size=64, repeats=2, threads=1)
    return ProfileReport(env=_env(), latencies=lats, peak=peak)


# --- measuring (tiny models, structure only) -------------------------------------------------
@pytest.fixture(scope="module")
def tiny_latency() -> Latency:
    peak = GemmPeak(gflops=100.0, median_gflops=90.0, size=64, repeats=1, threads=1)
    return latency.measure_latency(
        TINY, seq_len=16, batch_size=2, repeats=4, warmup=1, threads=1, peak=peak
    )


def test_measure_latency_structure(tiny_latency):
    lat = tiny_latency
    assert lat.name == TINY.label and lat.spec == TINY
    assert lat.n_repeat == 4 and len(lat.times_ms) == 4 and lat.n_warmup == 1
    assert (lat.threads, lat.batch_size, lat.seq_len) == (1, 2, 16)
    assert all(t > 0 for t in lat.times_ms)
    assert lat.min_ms <= lat.p25_ms <= lat.latency_ms <= lat.p75_ms <= lat.max_ms
    assert lat.min_ms == min(lat.times_ms) and lat.max_ms == max(lat.times_ms)
    assert lat.n_params == arch.count_params(TINY).total
    ops = arch.count_ops(TINY, seq_len=16, batch_size=2)
    assert (lat.n_ops, lat.matmul_flops) == (ops.total, ops.matmul_flops)
    assert lat.achieved_gflops == pytest.approx(ops.matmul_flops / lat.latency_ms / 1e6)
    assert lat.pct_of_peak == pytest.approx(lat.achieved_gflops)  # peak is 100 GFLOP/s


def test_measure_latency_restores_threads():
    import torch

    before = torch.get_num_threads()
    latency.measure_latency(TINY, seq_len=8, repeats=1, warmup=0, threads=1)
    assert torch.get_num_threads() == before


def test_measure_latency_accepts_strings():
    lat = latency.measure_latency("1,2,32,64,100", seq_len=8, repeats=1, warmup=0, threads=1)
    assert lat.name == "D1-A2-H32-I64" and lat.spec.vocab_size == 100


def test_measure_gemm_peak_structure():
    peak = machine.measure_gemm_peak(size=64, repeats=3, threads=1)
    assert peak.gflops > 0 and peak.gflops >= peak.median_gflops
    assert (peak.size, peak.repeats, peak.threads) == (64, 3, 1)


def test_env_fingerprint_fields():
    env = machine.env_fingerprint(threads=1)
    assert env.cpu_model and env.n_cores >= 1 and env.threads == 1
    for field in ("torch_version", "transformers_version", "python_version", "platform"):
        assert getattr(env, field)


def test_profile_presets_report():
    config = ProfileConfig(
        presets=(TINY, "1,2,32,32,100"),
        seq_len=8,
        repeats=2,
        warmup=0,
        threads=1,
        gemm_size=32,
        gemm_repeats=1,
    )
    report = latency.profile_presets(config, progress=False)
    assert report.names == [TINY.label, "D1-A2-H32-I32"]
    assert report.peak is not None and report.peak.threads == 1
    assert all(lat.pct_of_peak is not None and lat.pct_of_peak > 0 for lat in report.latencies)
    assert report.env.threads == 1
    frame = report.to_frame()
    assert list(frame.index) == report.names and "latency_ms" in frame.columns


def test_profile_presets_interleaved():
    config = ProfileConfig(
        presets=(TINY, "1,2,32,32,100"),
        seq_len=8,
        repeats=3,
        warmup=1,
        threads=1,
        gemm_size=None,
        interleave=True,
    )
    report = latency.profile_presets(config, progress=False)
    assert report.peak is None and report.names == [TINY.label, "D1-A2-H32-I32"]
    assert report.interleaved
    for lat in report.latencies:
        assert lat.n_repeat == 3 and len(lat.times_ms) == 3 and lat.n_warmup == 1
        assert lat.threads == 1 and lat.pct_of_peak is None and lat.latency_ms > 0


# --- records and arithmetic ------------------------------------------------------------------
def test_speedup_math():
    report = _report()
    assert report.speedup("bort", over="bert-base") == pytest.approx(4.0)
    assert report.speedup("bort", over="bert-large") == pytest.approx(458.0 / 36.0)
    assert report.speedups("bert-base") == pytest.approx(
        {"bert-base": 1.0, "bert-large": 144.0 / 458.0, "bort": 4.0}
    )
    assert report.speedups("roberta-large") == {}
    assert report.speedup("bort", over="bert-base", stat="min") == pytest.approx(4.0)
    assert report.medians() == {"bert-base": 144.0, "bert-large": 458.0, "bort": 36.0}
    frame = report.to_frame()
    assert frame.loc["bort", "speedup_vs_bert-large"] == pytest.approx(458.0 / 36.0)


def test_report_roundtrip():
    report = _report()
    data = json.loads(json.dumps(report.to_dict()))
    assert ProfileReport.from_dict(data) == report
    assert data["speedups"]["bert-base"]["bort"] == pytest.approx(4.0)


def test_latency_roundtrip_and_iqr():
    lat = _lat("x", 10.0)
    assert Latency.from_dict(json.loads(json.dumps(lat.to_dict()))) == lat
    assert lat.iqr_ms == pytest.approx(2.0)
    assert lat.to_dict()["spec"] == TINY.to_dict()  # the JSON holds the spec's fields


def test_env_and_peak_roundtrip():
    env = _env(threads=2)
    peak = GemmPeak(gflops=1.0, median_gflops=0.5, size=8, repeats=1, threads=2)
    assert EnvFingerprint.from_dict(env.to_dict()) == env
    assert GemmPeak.from_dict(peak.to_dict()) == peak


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys"):
        GemmPeak.from_dict({**GemmPeak(1.0, 1.0, 8, 1, 1).to_dict(), "bogus": 1})


def test_speedup_bad_stat():
    with pytest.raises(ValueError, match="stat"):
        _report().speedup("bort", over="bert-base", stat="mean")


def test_report_get_unknown_name():
    with pytest.raises(ValueError, match="no model named"):
        _report().get("nope")


def test_size_rows_bort_fractions():
    rows = paper.size_rows(["bort", "bort-paper-table", "bert-large"])
    by = {r.name: r for r in rows}
    assert by["bert-large"].net_fraction == pytest.approx(1.0)
    # paper (a): 16% net, 5.5% effective fit the paper-table shape (see arch.PRESETS)
    assert by["bort-paper-table"].net_fraction == pytest.approx(0.165, abs=0.005)
    assert by["bort-paper-table"].effective_fraction == pytest.approx(0.054, abs=0.002)
    assert by["bort"].total == by["bort"].embeddings + by["bort"].encoder + by["bort"].pooler
    frame = paper.size_frame(rows)
    assert frame.loc["bort", "total_M"] == pytest.approx(by["bort"].total / 1e6)
    assert by["bort"].spec == arch.PRESETS["bort"]  # records hold records
    assert paper.SizeRow.from_dict(json.loads(json.dumps(rows[0].to_dict()))) == rows[0]


def test_paper_comparison():
    comp = paper.paper_comparison(_report())
    assert comp.value("bort", "speedup_vs_bert-base") == pytest.approx(4.0)
    assert comp.value("bort", "speedup_vs_roberta-large") is None  # not measured
    assert comp.value("bort-paper-table", "speedup_vs_bert-base") is None  # not in the report
    assert comp.value("bort-paper-table", "net_fraction") == pytest.approx(
        arch.size_fractions(arch.PRESETS["bort-paper-table"], arch.PRESETS["bert-large"])["net"]
    )
    assert len(comp.rows) == 2 * len(paper.PAPER_CLAIMS)
    assert (comp.seq_len, comp.batch_size, comp.threads) == (16, 1, 1)
    assert comp.to_frame().shape == (len(comp.rows), 3)
    assert type(comp).from_dict(json.loads(json.dumps(comp.to_dict()))) == comp


def test_paper_comparison_unknown_model():
    with pytest.raises(ValueError, match="neither in the report nor a preset"):
        paper.paper_comparison(_report(), models=("D9",))


# --- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(repeats=0), "repeats"),
        (dict(warmup=-1), "warmup"),
        (dict(seq_len=0), "seq_len"),
        (dict(batch_size=0), "batch_size"),
        (dict(threads=0), "threads"),
        (dict(seed=-1), "seed"),
        (dict(seq_len=65), "max_position_embeddings"),
    ],
)
def test_measure_latency_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        latency.measure_latency(TINY, **kwargs)


def test_measure_latency_type_error():
    with pytest.raises(TypeError, match="ArchSpec"):
        latency.measure_latency(3)
    with pytest.raises(TypeError, match="repeats must be an int, got True"):
        latency.measure_latency(TINY, repeats=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(size=0), "size"), (dict(repeats=0), "repeats"), (dict(threads=0), "threads")],
)
def test_measure_gemm_peak_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        machine.measure_gemm_peak(**kwargs)


# --- the config --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(presets=()), "presets is empty"),
        (dict(presets=("bort", "bort")), r"presets repeats \['bort'\]"),
        (dict(presets=("nope",)), "unknown architecture preset"),
        (dict(presets=(TINY,), repeats=0), "repeats"),
        (dict(presets=(TINY,), seq_len=65), "max_position_embeddings"),
        (dict(warmup=-1), "warmup"),
        (dict(threads=0), "threads"),
        (dict(gemm_size=0), "gemm_size"),
        (dict(gemm_repeats=0), "gemm_repeats"),
        (dict(batch_size=0), "batch_size"),
        (dict(seed=-1), "seed"),
    ],
)
def test_profile_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ProfileConfig(**kwargs)


def test_profile_config_type_errors():
    with pytest.raises(TypeError, match="interleave must be True or False"):
        ProfileConfig(interleave=1)
    with pytest.raises(TypeError, match="config must be a ProfileConfig"):
        latency.profile_presets(["bort"], progress=False)


def test_profile_config_defaults_smoke_and_roundtrip():
    default = ProfileConfig()
    assert default.presets == latency.DEFAULT_PRESETS and default.threads is None
    smoke = ProfileConfig.smoke()
    assert [n for n, _ in smoke.models()] == ["tinybert-4", "minilm-l6-h384", "bort"]
    assert (smoke.seq_len, smoke.repeats, smoke.threads) == (32, 2, 1)
    assert ProfileConfig.smoke(repeats=3).repeats == 3  # the caller's value wins
    assert ProfileConfig(presets="bort").presets == ("bort",)
    mixed = ProfileConfig(presets=(TINY, "bort"), seq_len=16)
    for config in (default, smoke, mixed):
        assert ProfileConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# --- figures ---------------------------------------------------------------------------------
def test_size_breakdown_data_and_figure():
    rows = paper.size_rows(["bert-base", "bort"])
    data = profile_plots.size_breakdown_data(rows)
    assert data.names == ("bert-base", "bort")
    assert data.parts == ("embeddings", "encoder", "pooler")
    assert sum(col[1] for col in data.millions) == pytest.approx(rows[1].total / 1e6)
    fig = profile_plots.size_breakdown_figure(rows)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == ["embeddings", "encoder", "pooler"]
    assert all(len(t.x) == 2 for t in bars)
    assert fig.layout.barmode == "stack"
    assert fig.layout.yaxis.title.text == "parameters (millions)"


def test_size_breakdown_empty():
    with pytest.raises(ValueError, match="rows"):
        profile_plots.size_breakdown_data([])


def test_latency_data_and_figures():
    report = _report()
    data = profile_plots.latency_data(report)
    assert data.names == ("bert-base", "bert-large", "bort")
    assert data.err_minus == pytest.approx((14.4, 45.8, 3.6))
    assert data.err_plus == pytest.approx((14.4, 45.8, 3.6))
    scatter = profile_plots.latency_scatter_figure(report)
    assert len(scatter.data) == 1 and len(scatter.data[0].x) == 3
    assert list(scatter.data[0].text) == ["bert-base", "bert-large", "bort"]
    assert scatter.layout.xaxis.type == "log" and scatter.layout.yaxis.type == "log"
    assert scatter.layout.xaxis.title.text.startswith("parameters")
    bars = profile_plots.latency_bars_figure(report)
    assert list(bars.data[0].x) == ["bort", "bert-base", "bert-large"]  # sorted by latency
    assert bars.layout.yaxis.title.text == "median latency (ms)"


def test_latency_data_empty():
    with pytest.raises(ValueError, match="no latencies"):
        profile_plots.latency_data(ProfileReport(env=_env(), latencies=()))


# --- CLI -------------------------------------------------------------------------------------
def test_cli_profile_writes_json(tmp_path, capsys):
    out = tmp_path / "p.json"
    code = main(
        [
            "profile",
            "--presets",
            "",
            "--spec",
            "1,2,32,64,100",
            "--spec",
            "2,2,32,64,100",
            "--seq-len",
            "8",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--gemm-size",
            "32",
            "--gemm-repeats",
            "1",
            "--json",
            str(out),
            "--no-progress",
            "--interleave",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    report = ProfileReport.load(out)
    assert report.names == ["D1-A2-H32-I64", "D2-A2-H32-I64"]
    assert all(lat.n_repeat == 2 and lat.threads == 1 for lat in report.latencies)
    assert report.interleaved and data["speedups"] == {}  # no bert-base / bert-large here
    assert data["env"]["cpu_model"] and data["peak"]["size"] == 32
    assert "D2-A2-H32-I64" in capsys.readouterr().out


def test_cli_profile_bad_preset(capsys):
    # validated by the flag's type (bortkit.cli.args): argparse's exit 2, one error line
    with pytest.raises(SystemExit) as info:
        main(["profile", "--presets", "bort,nope", "--no-gemm"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("bortkit profile: error: argument --presets") and "'nope'" in err


def test_cli_profile_nothing(capsys):
    assert main(["profile", "--presets", "", "--no-gemm"]) == 2
    assert "nothing to profile" in capsys.readouterr().err


def test_paper_comparison_by_metric():
    comp = paper.paper_comparison(_report())
    assert comp.by_metric("speedup_vs_bert-base") == pytest.approx(
        {"bort": 4.0, "bort-paper-table": None}
    )
    with pytest.raises(ValueError, match="unknown metric"):
        comp.by_metric("speed")
