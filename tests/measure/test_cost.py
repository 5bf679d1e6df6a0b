"""Measured cost beside predicted cost: the table, its cache, the agreement record, the figure.

Timing tests assert structure (one latency per candidate, in order; the cache hit), never speed;
the agreement arithmetic is checked on hand-made tables whose answer is known.
"""

from __future__ import annotations

import math

import pytest

from bortkit import arch
from bortkit.arch import ArchSpec
from bortkit.measure import cost, latency
from bortkit.measure.cost import CostAgreement, CostConfig, CostTable, LatencyCache
from bortkit.measure.records import EnvFingerprint, Latency
from bortkit.plots import profile as profile_plots
from bortkit.search.space import SearchSpace

pytestmark = pytest.mark.usefixtures("one_thread")

SPECS = [ArchSpec(d, 2, h, 2 * h, vocab_size=100, max_position_embeddings=64)
         for d, h in ((1, 16), (2, 16), (2, 32))]


def _env(**changes) -> EnvFingerprint:
    base = dict(cpu_model="test cpu", n_cores=2, torch_version="t", transformers_version="x",
                python_version="3", platform="p", threads=1, load_avg_1m=0.0)
    return EnvFingerprint(**{**base, **changes})


def _lat(spec: ArchSpec, ms: float, n_ops: int) -> Latency:
    return Latency(name=spec.label, spec=spec, latency_ms=ms, p25_ms=ms, p75_ms=ms, min_ms=ms,
                   max_ms=ms, std_ms=0.0, n_repeat=1, n_warmup=0, threads=1, batch_size=1,
                   seq_len=16, n_params=arch.count_params(spec).total, n_ops=n_ops,
                   matmul_flops=n_ops, achieved_gflops=1.0, times_ms=(ms,))


def _table(ms_of_ops) -> CostTable:
    specs = [ArchSpec(d, 2, 32, 64, vocab_size=100, max_position_embeddings=64)
             for d in range(1, 7)]
    ops = [10**k for k in range(3, 9)]
    lats = tuple(_lat(s, ms_of_ops(o), o) for s, o in zip(specs, ops))
    return CostTable(space="hand", config=CostConfig.smoke(), env=_env(), latencies=lats)


# --- the agreement arithmetic ------------------------------------------------------------------
def test_agreement_of_a_power_law_is_exact():
    a = cost.cost_agreement(_table(lambda o: 3.0 * o**0.5))
    assert a.slope == pytest.approx(0.5) and a.intercept == pytest.approx(math.log(3.0))
    assert a.r2 == pytest.approx(1.0)
    assert a.max_abs_residual == pytest.approx(0.0, abs=1e-9)
    assert a.spearman_rho == pytest.approx(1.0)
    assert a.fitted_ms == pytest.approx(a.measured_ms)
    assert a.n == 6 and a.summary()["n"] == 6


def test_agreement_names_the_worst_candidate_and_the_rank_break():
    # the fourth candidate (1e6 ops) runs 4x slower than the power law: above the fifth
    table = _table(lambda o: o**0.5 * (4.0 if o == 10**6 else 1.0))
    a = cost.cost_agreement(table)
    assert a.worst(1)[0][0] == table.labels[3] and a.worst(1)[0][1] > 0
    assert a.spearman_rho < 1.0
    assert a.rms_residual > 0 and a.r2 < 1.0
    assert CostAgreement.from_dict(a.to_dict()) == a


def test_agreement_needs_three_candidates():
    table = _table(lambda o: o)
    small = table.replace(latencies=table.latencies[:2])
    with pytest.raises(ValueError, match="at least 3 candidates"):
        cost.cost_agreement(small)


def test_costs_mapping_by_kind():
    table = _table(lambda o: o / 1e3)
    assert table.costs("latency") == {lat.spec.label: lat.latency_ms for lat in table.latencies}
    assert table.costs("ops") == {lat.spec.label: float(lat.n_ops) for lat in table.latencies}
    with pytest.raises(ValueError, match="kind"):
        table.costs("flops")


def test_cost_agreement_figure_data():
    a = cost.cost_agreement(_table(lambda o: o**0.5 * (1.3 if o == 10**5 else 1.0)))
    fig = profile_plots.cost_agreement_figure(a)
    assert len(fig.data) == 3  # candidates, the fit line, the residuals
    assert list(fig.data[0].y) == list(a.measured_ms) and list(fig.data[2].y) == list(a.residuals)
    assert list(fig.data[0].text) == list(a.labels)
    assert "Spearman ρ = " in fig.layout.title.text
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


# --- measuring and the cache ---------------------------------------------------------------------
def test_measure_costs_structure_and_cache(tmp_path, monkeypatch):
    config = CostConfig.smoke(repeats=2, warmup=0, device="cpu")
    table = cost.measure_costs(SPECS, config, cache=tmp_path)
    assert table.labels == tuple(s.label for s in SPECS) and table.n_cached == 0
    for lat, spec in zip(table.latencies, SPECS):
        assert lat.spec == spec and lat.latency_ms > 0 and lat.n_repeat == 2
        assert lat.n_ops == arch.count_ops(spec, seq_len=16).total and lat.device == "cpu"
    assert (tmp_path / f"latency-{table.env.key()}.json").is_file()
    assert CostTable.load(table.save(tmp_path / "run")) == table

    def no_timing(*args, **kwargs):
        raise AssertionError("a cached candidate was timed again")

    monkeypatch.setattr(cost, "measure_latencies", no_timing)
    again = cost.measure_costs(SPECS, config, cache=tmp_path)
    assert again.n_cached == 3 and again.latencies == table.latencies
    # One more candidate: only it is timed.
    monkeypatch.setattr(cost, "measure_latencies", latency.measure_latencies)
    extra = ArchSpec(1, 4, 32, 32, vocab_size=100, max_position_embeddings=64)
    more = cost.measure_costs([*SPECS, extra], config, cache=tmp_path)
    assert more.n_cached == 3 and more.latencies[:3] == table.latencies


def test_cache_is_keyed_by_the_environment(tmp_path):
    config = CostConfig.smoke()
    a = LatencyCache(tmp_path, _env(threads=1))
    a.put(_lat(SPECS[0], 1.0, 10), config)
    a.save()
    assert LatencyCache(tmp_path, _env(threads=1, load_avg_1m=3.0)).get(SPECS[0], config)
    assert LatencyCache(tmp_path, _env(threads=2)).get(SPECS[0], config) is None
    assert LatencyCache(tmp_path, _env(torch_version="u")).get(SPECS[0], config) is None
    # a different measurement condition is a different entry
    assert a.get(SPECS[0], config.replace(repeats=4)) is None


def test_damaged_cache_names_the_file(tmp_path):
    env = _env()
    (tmp_path / f"latency-{env.key()}.json").write_text('{"entries": {"k": {"bad": 1}}}')
    with pytest.raises(ValueError, match="not a latency cache"):
        LatencyCache(tmp_path, env)


def test_search_space_name_goes_into_the_table(tmp_path):
    space = SearchSpace(layers=(1,), heads=(2,), hidden=(16, 32), intermediate=(32,),
                        vocab_size=100, max_position_embeddings=64, name="mini")
    table = cost.measure_costs(space, CostConfig.smoke(repeats=1, warmup=0, interleave=False))
    assert table.space == "mini" and len(table.latencies) == 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(seq_len=0), "seq_len"),
    (dict(batch_size=-1), "batch_size"),
    (dict(repeats=0), "repeats"),
    (dict(warmup=-1), "warmup"),
    (dict(threads=0), "threads"),
    (dict(seed=-1), "seed"),
    (dict(device="gpu"), "device"),
    (dict(interleave=1), "interleave"),
])
def test_cost_config_validation(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        CostConfig(**kwargs)


def test_measure_costs_bad_input():
    with pytest.raises(TypeError, match="CostConfig"):
        cost.measure_costs(SPECS, {"seq_len": 16})
    with pytest.raises(ValueError, match="non-empty sequence of ArchSpec"):
        cost.measure_costs([], CostConfig.smoke())
    with pytest.raises(ValueError, match="repeats specs"):
        cost.measure_costs([SPECS[0], SPECS[0]], CostConfig.smoke())
    with pytest.raises(ValueError, match="max_position_embeddings"):
        cost.measure_costs(SPECS, CostConfig.smoke(seq_len=128))
