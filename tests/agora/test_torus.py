"""bortkit.agora.torus: the torus data, sampler, labeller, the config and the one-call run."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora import torus


def test_points_lie_on_the_torus_and_angles_invert():
    rng = np.random.default_rng(0)
    u, v = rng.uniform(0, 2 * np.pi, 50), rng.uniform(0, 2 * np.pi, 50)
    x = torus.torus_points(u, v, R=2.0, r=0.8)
    assert x.shape == (50, 3)
    # (sqrt(x²+y²) − R)² + z² = r²
    np.testing.assert_allclose((np.hypot(x[:, 0], x[:, 1]) - 2.0) ** 2 + x[:, 2] ** 2, 0.64)
    u2, v2 = torus.torus_angles(x)
    np.testing.assert_allclose(np.cos(u2 - u), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.cos(v2 - v), 1.0, atol=1e-9)


def test_make_torus_train_covers_only_part_and_dev_is_representative():
    d = torus.make_torus(n_train=300, n_dev=300, n_test=50, coverage=0.4, seed=0)
    assert d.train_x.shape == (300, 3) and d.dev_x.shape == (300, 3) and d.test_x.shape == (50, 3)
    u_train, _ = torus.torus_angles(d.train_x)
    u_dev, _ = torus.torus_angles(d.dev_x)
    assert u_train.max() < 2 * np.pi * 0.4 + 1e-9
    assert (u_dev > 2 * np.pi * 0.4).mean() > 0.45  # most of dev is off the training support
    assert 0.4 < d.dev_y.mean() < 0.6  # balanced classes
    np.testing.assert_array_equal(d.dev_y, torus.torus_label(d.dev_x))


def test_make_torus_is_seeded():
    a, b = torus.make_torus(seed=5), torus.make_torus(seed=5)
    np.testing.assert_array_equal(a.train_x, b.train_x)
    assert not np.array_equal(a.dev_x, torus.make_torus(seed=6).dev_x)


@pytest.mark.parametrize("kw", [dict(n_train=0), dict(coverage=0.0), dict(coverage=1.5),
                                dict(R=1.0, r=1.0)])
def test_make_torus_validation(kw):
    with pytest.raises(ValueError):
        torus.make_torus(**kw)


def test_sampler_respects_band_and_count():
    d = torus.make_torus(n_dev=20, seed=0)
    s = torus.TorusSampler(sigma=0.35)
    band = (0.85, 0.97)
    x, src = s.sample(d.dev_x, n_per_source=5, band=band, seed=0)
    assert x.shape[1] == 3 and len(x) == len(src) and len(x) <= 100
    assert np.bincount(src, minlength=20).max() <= 5
    u, v = torus.torus_angles(x)
    us, vs = torus.torus_angles(d.dev_x[src])
    sim = (np.cos(u - us) + np.cos(v - vs)) / 2
    assert sim.min() >= band[0] - 1e-9 and sim.max() <= band[1] + 1e-9
    x2, _ = s.sample(d.dev_x, n_per_source=5, band=band, seed=0)
    np.testing.assert_array_equal(x, x2)


def test_sampler_empty_band_returns_nothing():
    d = torus.make_torus(n_dev=5, seed=0)
    x, src = torus.TorusSampler().sample(d.dev_x, n_per_source=3, band=(1.0, 1.0), seed=0)
    assert x.shape == (0, 3) and src.shape == (0,)


def test_labellers_are_accurate_and_the_oracle_noise_shows():
    d = torus.make_torus(n_dev=400, seed=1)
    knn = torus.TorusLabeller(kind="knn", seed=0)
    y, conf = knn.label(d.dev_x)
    assert (y == d.dev_y).mean() > 0.85 and ((conf >= 0.5) & (conf <= 1)).all()
    y, _ = torus.TorusLabeller(kind="oracle", noise=0.3, seed=0).label(d.dev_x)
    assert 0.6 < (y == d.dev_y).mean() < 0.8


def test_labeller_validation():
    with pytest.raises(ValueError, match="kind"):
        torus.TorusLabeller(kind="svm")
    with pytest.raises(ValueError, match="noise"):
        torus.TorusLabeller(kind="oracle", noise=1.5)


def test_run_torus_beats_its_baseline_on_test():
    run = torus.run_torus(torus.TorusConfig(n_test=500), seed=0)
    assert run.result.best_dev_accuracy > run.result.rounds[0].best_dev_accuracy
    assert run.test_accuracy > run.baseline_test_accuracy + 0.05
    assert run.result.labeller_dev_accuracy > 2 / 3


def test_smoke_run_is_quick_improves_and_round_trips(tmp_path):
    run = torus.run_torus(torus.TorusConfig.smoke(), seed=0)
    assert run.data.train_x.shape == (60, 3) and run.data.test_x.shape == (500, 3)
    assert run.result.best_dev_accuracy > run.result.accuracies[0]
    again = torus.TorusRun.load(run.save(tmp_path / "run.json"))
    assert again.result == run.result and again.test_accuracy == run.test_accuracy
    np.testing.assert_allclose(again.data.dev_x, run.data.dev_x)
    np.testing.assert_array_equal(again.data.dev_y, run.data.dev_y)


def test_config_defaults_smoke_and_validation():
    config = torus.TorusConfig()
    assert (config.n_thetas, config.agora.band, config.agora.samples_per_mistake) == (
        8, (0.8, 0.99), 4)
    assert torus.TorusConfig.smoke(n_train=90).n_train == 90  # the caller's value wins
    for kw, match in [(dict(n_train=0), "n_train"), (dict(coverage=0.0), "coverage"),
                      (dict(n_thetas=17), "n_thetas"), (dict(sigma=0.0), "sigma"),
                      (dict(labeller="svm"), "labeller"), (dict(noise=1.5), "noise"),
                      (dict(agora={"band": (0.8, 0.9)}), "agora")]:
        with pytest.raises((ValueError, TypeError), match=f"TorusConfig.{match}"):
            torus.TorusConfig(**kw)


def test_thetas_validation():
    assert len(torus.torus_thetas(3)) == 3
    with pytest.raises(ValueError, match="n must be"):
        torus.torus_thetas(0)


def test_cli_agora_toy_writes_the_run_and_figures(tmp_path, capsys):
    from bortkit.cli import main

    out = tmp_path / "agora"
    assert main(["agora", "--toy", "--smoke", "--thetas", "4", "--out", str(out), "--json"]) == 0
    run = torus.TorusRun.load(out / "agora_result.json")
    assert len(run.result.rounds[0].thetas) == 4 and run.data.dev_x.shape == (60, 3)
    assert (out / "accuracy.html").is_file() and (out / "rounds.html").is_file()
    assert '"kind": "torus"' in capsys.readouterr().out
