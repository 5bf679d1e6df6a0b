"""The FPTAS: budget, trimming, maximum point, W, the (1 − ε) guarantee on synthetic instances."""

from __future__ import annotations

import json

import pytest

from bortkit import arch
from bortkit.search import fptas
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.store import Store

EV = SyntheticEvaluator()


def _run(space, *, trim=True, **cfg):
    config = fptas.FptasConfig(**cfg)
    return fptas.search(space, evaluator=EV, config=config, trim_space=trim, progress=False)


# --- budget -----------------------------------------------------------------------------------
def test_training_budget_formula_and_clamp():
    assert fptas.training_budget(0.1, 1.0, c=10.0) == 100
    assert fptas.training_budget(0.1, 4.0, c=10.0) == 13  # ceil(10 / (0.1 · 8))
    assert fptas.training_budget(0.01, 1.0, c=10.0, max_steps=200) == 200
    assert fptas.training_budget(0.9, 100.0, c=1.0, min_steps=5) == 5


def test_explicit_steps_override_formula():
    assert fptas.FptasConfig(epsilon=0.1, steps=7).budget_steps == 7
    assert fptas.FptasConfig(epsilon=0.5, c=10).budget_steps == 20


# --- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0, 1, 1.5, -0.1, True, "0.1", float("nan")])
def test_invalid_epsilon(eps):
    with pytest.raises(ValueError, match="epsilon must be a number in \\(0, 1\\)"):
        fptas.FptasConfig(epsilon=eps)


@pytest.mark.parametrize("name", ["s", "c"])
def test_invalid_s_and_c(name):
    with pytest.raises(ValueError, match=f"{name} must be a positive number"):
        fptas.FptasConfig(**{name: 0})


def test_invalid_steps():
    with pytest.raises(ValueError, match="steps must be None or a positive int"):
        fptas.FptasConfig(steps=0)


def test_min_steps_above_max_steps():
    with pytest.raises(ValueError, match="min_steps=10 exceeds max_steps=5"):
        fptas.FptasConfig(min_steps=10, max_steps=5)


def test_empty_theta():
    with pytest.raises(ValueError, match="theta must be a non-empty tuple"):
        fptas.FptasConfig(theta=())


def test_unknown_theta_preset():
    with pytest.raises(ValueError, match="unknown theta preset 'nope'"):
        fptas.theta_preset("nope")


@pytest.mark.parametrize("field", ["order", "representative", "param_count"])
def test_unknown_project_choice(field):
    with pytest.raises(ValueError, match=f"{field} must be one of"):
        fptas.FptasConfig(**{field: "nope"})


def test_unknown_maximum_point():
    with pytest.raises(ValueError, match="maximum_point must be 'grid' or a preset"):
        fptas.FptasConfig(maximum_point="gpt-5")


def test_empty_space_is_a_clear_error():
    with pytest.raises(ValueError, match="is empty"):
        arch.SearchSpace(layers=(1,), heads=(3,), hidden=(64,), intermediate=(64,))


def test_space_must_be_a_search_space():
    with pytest.raises(TypeError, match="space must be an arch.SearchSpace"):
        fptas.search([arch.PRESETS["bort"]], evaluator=EV)


def test_evaluator_must_follow_the_protocol():
    with pytest.raises(TypeError, match="evaluator must have .evaluate"):
        fptas.search(arch.SearchSpace.tiny(), evaluator=lambda spec: 0.5)


def test_maximum_point_not_in_range():
    # BERT-base (110M) cannot dominate the paper's grid (H=1024, I=3072, 12 layers, BPE vocab).
    with pytest.raises(ValueError, match="'bert-base' .* is not in range"):
        _run(arch.SearchSpace.paper(), maximum_point="bert-base")


def test_maximum_point_preset_that_dominates():
    res = _run(arch.SearchSpace.tiny(), maximum_point="bert-base", epsilon=0.5)
    p_t, i_t = fptas.objectives(arch.PRESETS["bert-base"], seq_len=64)
    assert (res.p_t, res.i_t) == (p_t, i_t)
    assert all(c.w > 0 for c in res.trained)


# --- pieces -----------------------------------------------------------------------------------
def test_trim_hand_case():
    groups, reps = fptas.trim([100, 105, 120, 200], [10, 10.4, 11, 20], epsilon=0.1)
    assert groups == ((0, 1), (2,), (3,))
    assert reps == (0, 2, 3)
    _, reps_last = fptas.trim([100, 105, 120, 200], [10, 10.4, 11, 20], epsilon=0.1,
                              representative="costliest")
    assert reps_last == (1, 2, 3)


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.6])
def test_trim_groups_partition_and_stay_within_one_plus_eps(eps):
    specs = arch.SearchSpace.cpu_default().specs()
    p, i = zip(*(fptas.objectives(s) for s in specs))
    groups, reps = fptas.trim(p, i, epsilon=eps)
    assert sorted(k for g in groups for k in g) == list(range(len(specs)))
    for g, r in zip(groups, reps):
        assert r == g[0]
        for k in g:
            assert 1 / (1 + eps) <= p[k] / p[g[0]] <= 1 + eps
            assert 1 / (1 + eps) <= i[k] / i[g[0]] <= 1 + eps


def test_w_coefficient_hand_value_and_maximum_point():
    assert fptas.w_coefficient(25, 50, 0.5, p_t=100, i_t=100) == pytest.approx(0.75 * 0.5 / 0.5)
    assert fptas.w_coefficient(100, 50, 0.5, p_t=100, i_t=100) == 0.0  # W(T) = 0
    assert fptas.w_coefficient(0, 0, 0.0, p_t=1, i_t=1) == pytest.approx(1e7)  # error floor


# --- the algorithm ----------------------------------------------------------------------------
def test_result_invariants_and_round_trip():
    res = _run(arch.SearchSpace.cpu_default(), epsilon=0.25, steps=30,
               theta=fptas.theta_preset("lr2"))
    assert res.n_space == 81 and 0 < res.n_trained < res.n_space
    assert res.n_evaluations == 2 * res.n_trained
    assert res.chosen.trained and res.chosen.w == max(c.w for c in res.trained)
    assert set(res.front.indices) <= {c.index for c in res.trained}
    assert all(c.steps == 30 for c in res.trained)
    assert res.bound == 0.75 and res.budget_steps == 30
    for c in res.trained:  # the best θ is the one with the largest W, i.e. the lowest error
        assert c.error == min(t.error for t in c.trials)
    again = fptas.FptasResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again == res


def test_fewer_candidates_trained_as_epsilon_grows():
    space = arch.SearchSpace.cpu_default()
    counts = [_run(space, epsilon=e, steps=20).n_trained for e in (0.02, 0.1, 0.3, 0.6, 0.9)]
    assert counts == sorted(counts, reverse=True)
    assert counts[-1] < counts[0]


def test_tiny_epsilon_trains_everything_and_matches_exhaustive():
    space = arch.SearchSpace.tiny()
    res = _run(space, epsilon=1e-4, steps=20)
    ex = _run(space, trim=False, epsilon=1e-4, steps=20)
    assert res.n_trained == res.n_space
    assert res.chosen.index == ex.chosen.index and res.front == ex.front


@pytest.mark.parametrize("space_name", ["tiny", "cpu", "paper"])
@pytest.mark.parametrize("eps", [0.1, 0.25, 0.5])
def test_selected_w_within_one_minus_epsilon_of_exhaustive(space_name, eps):
    space = arch.SearchSpace.named(space_name)
    for seed in (0, 1):
        cfg = dict(epsilon=eps, seed=seed, theta=fptas.theta_preset("lr3"))
        res, ex = _run(space, **cfg), _run(space, trim=False, **cfg)
        assert res.budget_steps == ex.budget_steps
        assert res.chosen.w >= (1 - eps) * ex.chosen.w
        assert res.chosen.w <= ex.chosen.w  # exhaustive is the optimum under the budget


def test_store_is_reused_on_rerun():
    store = Store(":memory:")
    cfg = fptas.FptasConfig(epsilon=0.3, steps=10)
    first = fptas.search(arch.SearchSpace.tiny(), evaluator=EV, config=cfg, store=store,
                         progress=False)
    second = fptas.search(arch.SearchSpace.tiny(), evaluator=EV, config=cfg, store=store,
                          progress=False)
    assert first.n_cached == 0 and second.n_cached == second.n_evaluations
    assert [c.error for c in first.candidates] == [c.error for c in second.candidates]
    assert len(store) == first.n_evaluations


def test_import_does_not_pull_torch_or_plotly():
    import subprocess
    import sys

    code = ("import sys, bortkit.search.fptas, bortkit.search.baselines, bortkit.search.store, bortkit.search.executors; "
            "print(any(m in sys.modules for m in ('torch', 'plotly', 'optuna', 'dask')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- evaluators and CLI -------------------------------------------------------------------------
def test_synthetic_evaluator_is_deterministic_and_ordered_by_size():
    small, big = arch.ArchSpec(1, 2, 64, 128), arch.ArchSpec(4, 2, 256, 512)
    a = EV.evaluate(small, {"lr": 1e-3}, steps=200, seed=0)
    assert a == EV.evaluate(small, {"lr": 1e-3}, steps=200, seed=0)
    assert a != EV.evaluate(small, {"lr": 1e-3}, steps=200, seed=1)  # seeded noise
    assert EV.evaluate(big, {"lr": 1e-3}, steps=200, seed=0).error < a.error
    assert 0 < a.error < 1


def test_evaluator_versions_key_their_settings():
    import pickle

    from bortkit.search.evaluation import SurrogateEvaluator, make_evaluator

    assert SyntheticEvaluator(noise=0.1).version != EV.version
    assert SyntheticEvaluator(sleep_s=1.0).version == EV.version  # sleeping changes no result
    sur = SurrogateEvaluator(batch_size=4)
    assert "batch_size=4" in sur.version and pickle.loads(pickle.dumps(sur)) == sur
    with pytest.raises(ValueError, match="unknown evaluator 'gpt'"):
        make_evaluator("gpt")


def test_cli_writes_the_choice(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["fptas", "--space", "tiny", "--epsilon", "0.3", "--evaluator", "synthetic",
               "--steps", "5", "--store", str(tmp_path / "s.sqlite"), "--out",
               str(tmp_path / "out"), "--no-progress"])
    assert rc == 0
    chosen = json.loads((tmp_path / "out" / "chosen_arch.json").read_text())
    res = fptas.load_result(tmp_path / "out")
    assert arch.ArchSpec.from_dict(chosen) == res.chosen.spec
    assert "chosen D" in capsys.readouterr().out


def test_cli_invalid_epsilon_is_one_line_exit_2(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["fptas", "--space", "tiny", "--epsilon", "1.5", "--evaluator", "synthetic",
               "--out", str(tmp_path)])
    assert rc == 2
    assert "epsilon must be a number in (0, 1)" in capsys.readouterr().err
