"""The FPTAS: budget, trimming, maximum point, W, the (1 − ε) guarantee on synthetic instances."""

from __future__ import annotations

import json

import pytest

from bortkit import arch, search
from bortkit.search import fptas, pareto, trim
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store
from bortkit.theta import Theta, theta_grid

EV = SyntheticEvaluator()


def _run(space, *, trimmed=True, **cfg):
    return fptas.search(space, FptasConfig(**cfg), evaluator=EV, trim_space=trimmed,
                        progress=False)


# --- budget -----------------------------------------------------------------------------------
def test_training_budget_formula_and_clamp():
    assert trim.training_budget(0.1, 1.0, c=10.0) == 100
    assert trim.training_budget(0.1, 4.0, c=10.0) == 13  # ceil(10 / (0.1 · 8))
    assert trim.training_budget(0.01, 1.0, c=10.0, max_steps=200) == 200
    assert trim.training_budget(0.9, 100.0, c=1.0, min_steps=5) == 5


def test_explicit_steps_override_formula():
    assert FptasConfig(epsilon=0.1, steps=7).budget_steps == 7
    assert FptasConfig(epsilon=0.5, c=10).budget_steps == 20


def test_smoke_config_is_the_smoke_notebook_budget():
    cfg = FptasConfig.smoke()
    assert (cfg.epsilon, cfg.budget_steps, cfg.theta) == (0.25, 40, theta_grid("one"))
    assert FptasConfig.smoke(seed=3).seed == 3


# --- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("eps, error", [(0, ValueError), (1, ValueError), (1.5, ValueError),
                                        (-0.1, ValueError), (float("nan"), ValueError),
                                        (True, TypeError), ("0.1", TypeError)])
def test_invalid_epsilon(eps, error):
    with pytest.raises(error, match="FptasConfig.epsilon must"):
        FptasConfig(epsilon=eps)


def test_epsilon_error_names_the_interval():
    with pytest.raises(ValueError, match="FptasConfig.epsilon must lie in \\(0, 1\\), got 1.5"):
        FptasConfig(epsilon=1.5)


@pytest.mark.parametrize("name", ["s", "c"])
def test_invalid_s_and_c(name):
    with pytest.raises(ValueError, match=f"FptasConfig.{name} must lie in \\(0, inf\\)"):
        FptasConfig(**{name: 0})


@pytest.mark.parametrize("name", ["steps", "seq_len", "min_steps", "max_steps", "batch_size"])
def test_invalid_positive_ints(name):
    with pytest.raises(ValueError, match=f"FptasConfig.{name} must be >= 1"):
        FptasConfig(**{name: 0})


def test_min_steps_above_max_steps():
    with pytest.raises(ValueError, match="min_steps=10 exceeds max_steps=5"):
        FptasConfig(min_steps=10, max_steps=5)


def test_empty_theta():
    with pytest.raises(ValueError, match="theta must be a non-empty tuple"):
        FptasConfig(theta=())


def test_theta_must_hold_theta_records():
    with pytest.raises(TypeError, match="must hold bortkit.theta.Theta records"):
        FptasConfig(theta=({"lr": 1e-3},))


def test_unknown_theta_preset():
    with pytest.raises(ValueError, match="unknown Θ preset 'nope'"):
        theta_grid("nope")


def test_search_theta_presets():
    assert [t.lr for t in theta_grid("lr3")] == [3e-4, 1e-3, 3e-3]
    assert theta_grid("one") == (Theta(lr=1e-3, weight_decay=0.01, warmup_ratio=0.06,
                                       batch_size=8),)


@pytest.mark.parametrize("field", ["order", "representative", "param_count"])
def test_unknown_project_choice(field):
    with pytest.raises(ValueError, match=f"FptasConfig.{field} must be one of"):
        FptasConfig(**{field: "nope"})


def test_unknown_maximum_point():
    with pytest.raises(ValueError, match="maximum_point must be one of 'grid', 'bert-base'"):
        FptasConfig(maximum_point="gpt-5")


def test_config_round_trip_holds_theta_records():
    cfg = FptasConfig(epsilon=0.3, theta=theta_grid("lr2"), seq_len=32)
    again = FptasConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and isinstance(again.theta[0], Theta)


def test_empty_space_is_a_clear_error():
    with pytest.raises(ValueError, match="is empty"):
        SearchSpace(layers=(1,), heads=(3,), hidden=(64,), intermediate=(64,))


def test_space_must_be_a_search_space():
    with pytest.raises(TypeError, match="space must be a search.SearchSpace"):
        fptas.search([arch.PRESETS["bort"]], FptasConfig(), evaluator=EV)


def test_config_must_be_an_fptas_config():
    with pytest.raises(TypeError, match="config must be an FptasConfig"):
        fptas.search(SearchSpace.tiny(), {"epsilon": 0.1}, evaluator=EV)


def test_evaluator_must_follow_the_protocol():
    with pytest.raises(TypeError, match="evaluator must have .evaluate"):
        fptas.search(SearchSpace.tiny(), FptasConfig(), evaluator=lambda spec: 0.5)


def test_maximum_point_not_in_range():
    # BERT-base (110M) cannot dominate the paper's grid (H=1024, I=3072, 12 layers, BPE vocab).
    with pytest.raises(ValueError, match="'bert-base' .* is not in range"):
        _run(SearchSpace.paper(), maximum_point="bert-base")


@pytest.mark.parametrize("count", ["effective", "total"])
def test_maximum_point_preset_that_dominates(count):
    res = _run(SearchSpace.tiny(), maximum_point="bert-base", epsilon=0.5, param_count=count)
    p_t, i_t = trim.objectives(arch.PRESETS["bert-base"], param_count=count, seq_len=64)
    assert (res.p_t, res.i_t) == (p_t, i_t)
    assert all(c.w > 0 for c in res.trained)


@pytest.mark.parametrize("count", ["effective", "total"])
def test_candidates_maximum_point_and_w_use_one_parameter_count(count):
    res = _run(SearchSpace.tiny(), epsilon=0.3, steps=10, param_count=count)
    counts = [getattr(arch.count_params(c.spec), count) for c in res.candidates]
    assert [c.params for c in res.candidates] == counts and res.p_t == max(counts)
    c = res.chosen
    assert c.w == trim.w_coefficient(c.params, c.ops, c.error, p_t=res.p_t, i_t=res.i_t)


def test_effective_parameters_are_the_default():
    assert FptasConfig().param_count == "effective"
    res = _run(SearchSpace.tiny(), epsilon=0.3, steps=10)
    assert all(c.params == arch.count_params(c.spec).effective for c in res.candidates)


# --- pieces -----------------------------------------------------------------------------------
def test_trim_hand_case():
    groups, reps = trim.trim([100, 105, 120, 200], [10, 10.4, 11, 20], epsilon=0.1)
    assert groups == ((0, 1), (2,), (3,))
    assert reps == (0, 2, 3)
    _, reps_last = trim.trim([100, 105, 120, 200], [10, 10.4, 11, 20], epsilon=0.1,
                             representative="costliest")
    assert reps_last == (1, 2, 3)


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.6])
def test_trim_groups_partition_and_stay_within_one_plus_eps(eps):
    specs = SearchSpace.cpu_default().specs()
    p, i = zip(*(trim.objectives(s, param_count="effective") for s in specs))
    heads = [s.A for s in specs]
    groups, reps = trim.trim(p, i, epsilon=eps, keys=heads)
    assert sorted(k for g in groups for k in g) == list(range(len(specs)))
    for g, r in zip(groups, reps):
        assert r == g[0]
        assert len({heads[k] for k in g}) == 1  # never merges head counts
        for k in g:
            assert 1 / (1 + eps) <= p[k] / p[g[0]] <= 1 + eps
            assert 1 / (1 + eps) <= i[k] / i[g[0]] <= 1 + eps


def test_w_coefficient_hand_value_and_maximum_point():
    assert trim.w_coefficient(25, 50, 0.5, p_t=100, i_t=100) == pytest.approx(0.75 * 0.5 / 0.5)
    assert trim.w_coefficient(100, 50, 0.5, p_t=100, i_t=100) == 0.0  # W(T) = 0
    assert trim.w_coefficient(0, 0, 0.0, p_t=1, i_t=1) == pytest.approx(1e7)  # error floor


# --- the algorithm ----------------------------------------------------------------------------
def test_result_invariants_and_round_trip():
    res = _run(SearchSpace.cpu_default(), epsilon=0.25, steps=30, theta=theta_grid("lr2"))
    assert res.n_space == 81 and 0 < res.n_trained < res.n_space
    assert res.n_evaluations == 2 * res.n_trained
    reps = [c for c in res.trained if not c.audited]
    assert {c.index for c in reps} == {c.representative for c in res.candidates}
    assert res.chosen.trained and res.chosen.w == max(c.w for c in reps)
    # every member of Ξ has an e, measured or inherited; the front may hold inherited points
    assert all(c.trained != c.inherited for c in res.candidates)
    assert set(res.front.indices) == set(pareto.pareto_indices(
        [(c.params, c.ops, c.error) for c in res.candidates]))
    assert all(c.steps == 30 for c in res.trained)
    assert all(c.steps is None and c.seconds == 0 for c in res.candidates if c.inherited)
    assert res.bound == 0.75 and res.budget_steps == 30
    for c in res.trained:  # the best θ is the one with the largest W, i.e. the lowest error
        if c.w > 0:  # (candidates at p_T or i_T have W = 0 for every θ: the first θ is kept)
            assert c.error == min(t.error for t in c.trials)
    again = FptasResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again == res
    assert isinstance(again.chosen.theta, Theta) and again.chosen == again.candidates[
        again.chosen.index]


def test_save_and_load_result_by_run_folder(tmp_path):
    res = _run(SearchSpace.tiny(), epsilon=0.3, steps=10)
    out = fptas.save_result(res, tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == ["candidates.csv", "fptas_result.json"]
    assert search.load_result(out) == res == FptasResult.load(out)
    assert search.load_result(out / "fptas_result.json").chosen.spec == res.chosen.spec
    lines = (out / "candidates.csv").read_text().splitlines()
    assert lines[0] == ("index,label,D,A,H,I,params,ops,group,trained,error,w,theta,audited,"
                        "inherited")
    assert len(lines) == 1 + res.n_space
    assert res.to_frame().query("trained").shape[0] == res.n_trained


def test_fewer_candidates_trained_as_epsilon_grows():
    space = SearchSpace.cpu_default()
    counts = [_run(space, epsilon=e, steps=20).n_trained for e in (0.02, 0.1, 0.3, 0.6, 0.9)]
    assert counts == sorted(counts, reverse=True)
    assert counts[-1] < counts[0]


def test_tiny_epsilon_trains_everything_and_matches_exhaustive():
    space = SearchSpace.tiny()
    res = _run(space, epsilon=1e-4, steps=20)
    ex = _run(space, trimmed=False, epsilon=1e-4, steps=20)
    assert res.n_trained == res.n_space
    assert res.chosen.index == ex.chosen.index and res.front == ex.front


@pytest.mark.parametrize("space_name", ["tiny", "cpu", "paper"])
@pytest.mark.parametrize("eps", [0.1, 0.25, 0.5])
def test_selected_w_within_one_minus_epsilon_of_exhaustive(space_name, eps):
    space = SearchSpace.named(space_name)
    for seed in (0, 1):
        cfg = dict(epsilon=eps, seed=seed, theta=theta_grid("lr3"))
        res, ex = _run(space, **cfg), _run(space, trimmed=False, **cfg)
        assert res.budget_steps == ex.budget_steps
        assert res.chosen.w >= (1 - eps) * ex.chosen.w
        assert res.chosen.w <= ex.chosen.w  # exhaustive is the optimum under the budget


def test_store_is_reused_on_rerun():
    store = Store(":memory:")
    cfg = FptasConfig(epsilon=0.3, steps=10)
    first = fptas.search(SearchSpace.tiny(), cfg, evaluator=EV, store=store, progress=False)
    second = fptas.search(SearchSpace.tiny(), cfg, evaluator=EV, store=store, progress=False)
    assert first.n_cached == 0 and second.n_cached == second.n_evaluations
    assert [c.error for c in first.candidates] == [c.error for c in second.candidates]
    assert len(store) == first.n_evaluations


# --- evaluators and CLI -------------------------------------------------------------------------
def test_synthetic_evaluator_is_deterministic_and_ordered_by_size():
    small, big = arch.ArchSpec(1, 2, 64, 128), arch.ArchSpec(4, 2, 256, 512)
    th = Theta(lr=1e-3)
    a = EV.evaluate(small, th, steps=200, seed=0)
    assert a == EV.evaluate(small, th, steps=200, seed=0)
    assert a != EV.evaluate(small, th, steps=200, seed=1)  # seeded noise
    assert EV.evaluate(big, th, steps=200, seed=0).error < a.error
    assert 0 < a.error < 1
    # Only lr enters the model: θ fields it does not read change no number.
    assert a == EV.evaluate(small, th.replace(weight_decay=0.3, batch_size=4), steps=200, seed=0)


def test_synthetic_evaluator_version_keys_its_settings():
    assert SyntheticEvaluator(noise=0.1).version != EV.version
    assert SyntheticEvaluator(sleep_s=1.0).version == EV.version  # sleeping changes no result


def test_cli_writes_the_result_that_load_result_reads(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["fptas", "--space", "tiny", "--epsilon", "0.3", "--evaluator", "synthetic",
               "--steps", "5", "--theta", "lr2", "--store", str(tmp_path / "s.sqlite"),
               "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 0
    res = search.load_result(tmp_path / "out")
    assert res.config.theta == theta_grid("lr2") and res.budget_steps == 5
    assert not (tmp_path / "out" / "chosen_arch.json").exists()  # no bare-file hand-off
    assert f"chosen {res.chosen.spec.label}" in capsys.readouterr().out


def test_cli_invalid_epsilon_is_one_line_exit_2(tmp_path, capsys):
    from bortkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["fptas", "--space", "tiny", "--epsilon", "1.5", "--evaluator", "synthetic",
              "--out", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --epsilon: must lie in (0, 1), got '1.5'" in err and err.count("\n") == 1


def test_cost_latency_ranks_by_the_measured_clock():
    """cost="latency": i(ξ) is the given median latency; ops stays the default."""
    space = SearchSpace.tiny()
    # A made-up clock that is the reverse of the op-count order: the choice must follow it.
    specs = space.specs()
    latency = tuple((s.label, 1.0 + k) for k, s in enumerate(reversed(specs)))
    config = FptasConfig.smoke(cost="latency", latency_ms=latency, audit_fraction=0.0)
    result = fptas.search(space, config, evaluator=SyntheticEvaluator())
    by_label = dict(latency)
    assert all(c.ops == by_label[c.spec.label] for c in result.candidates)
    ops_result = fptas.search(space, FptasConfig.smoke(audit_fraction=0.0),
                              evaluator=SyntheticEvaluator())
    assert all(isinstance(c.ops, int) for c in ops_result.candidates)


@pytest.mark.parametrize("changes, match", [
    (dict(cost="latency"), "needs latency_ms"),
    (dict(cost="clock"), "cost"),
    (dict(latency_ms=(("D1-A2-H64-I128", 1.0),)), "cost='ops'"),
    (dict(cost="latency", latency_ms=(("x", -1.0),)), "latency_ms"),
    (dict(cost="latency", latency_ms=(("x", 1.0),), maximum_point="bert-base"), "grid"),
])
def test_cost_options_are_validated(changes, match):
    with pytest.raises(ValueError, match=match):
        FptasConfig(**changes)


def test_latency_missing_for_a_candidate_is_named():
    space = SearchSpace.tiny()
    one = space.specs()[0].label
    config = FptasConfig.smoke(cost="latency", latency_ms=((one, 1.0),))
    with pytest.raises(ValueError, match="have no measured latency"):
        fptas.search(space, config, evaluator=SyntheticEvaluator())
