"""bortkit.agora.loop: the generic loop, its invariants and its validation (on the torus toy and
on hand-made learners/samplers)."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora import loop, torus
from bortkit.agora.records import PRUNE_RULES, AgoraConfig, AgoraResult


def _torus_parts(seed=0, n_thetas=4):
    data = torus.make_torus(n_train=120, n_dev=120, n_test=200, seed=seed)
    parts = dict(
        learner=torus.KnnLearner(),
        train=(data.train_x, data.train_y),
        dev=(data.dev_x, data.dev_y),
        thetas=torus.torus_thetas(n_thetas),
        sampler=torus.TorusSampler(),
        labeller=torus.TorusLabeller(seed=seed, n_samples=600),
    )
    return data, parts


def _run(seed=0, n_thetas=4, **cfg):
    data, p = _torus_parts(seed, n_thetas)
    res = loop.augment(p["learner"], p["train"], p["dev"], p["thetas"], sampler=p["sampler"],
                        labeller=p["labeller"], config=AgoraConfig(**cfg), seed=seed,
                        progress=False)
    return data, res


def test_torus_first_round_raises_dev_accuracy():
    _, res = _run(seed=0, samples_per_mistake=4, band=(0.8, 0.99))
    assert len(res.rounds) >= 2
    assert res.rounds[1].best_dev_accuracy > res.rounds[0].best_dev_accuracy
    assert res.best_dev_accuracy >= res.rounds[0].best_dev_accuracy


def test_no_dev_point_is_ever_added_to_train():
    data, res = _run(seed=1, augment_last=True)
    dev = {tuple(x) for x in data.dev_x.tolist()}
    for r in res.rounds:
        assert r.n_new > 0
        assert not dev & {tuple(p) for p in r.new_points}


class _CopySampler:
    """Proposes the sources themselves (a sampler with a bug, or a refill that changed nothing)
    plus one genuinely new point per source."""

    def sample(self, sources, *, n_per_source, band, seed):
        new = np.concatenate([sources, sources + 0.01])
        return new, np.concatenate([np.arange(len(sources))] * 2)


def test_dev_copies_proposed_by_the_sampler_are_dropped():
    data, p = _torus_parts()
    res = loop.augment(p["learner"], p["train"], p["dev"], p["thetas"], sampler=_CopySampler(),
                        labeller=p["labeller"], config=AgoraConfig(augment_last=True),
                        progress=False)
    dev = {tuple(x) for x in data.dev_x.tolist()}
    for r in res.rounds:
        assert r.n_new == len(r.mistakes)  # only the +0.01 copies survive
        assert not dev & {tuple(x) for x in r.new_points}


def test_every_added_point_carries_the_labellers_label():
    _, p = _torus_parts()
    res = loop.augment(p["learner"], p["train"], p["dev"], p["thetas"], sampler=p["sampler"],
                        labeller=p["labeller"], config=AgoraConfig(augment_last=True),
                        progress=False)
    for r in res.rounds:
        pts = np.asarray(r.new_points)
        labels, conf = p["labeller"].label(pts)
        assert list(r.new_labels) == labels.tolist()
        np.testing.assert_allclose(r.new_confidence, conf)
        assert all(0 <= s < 120 for s in r.new_sources)
        assert set(r.new_sources) <= set(r.mistakes)


@pytest.mark.parametrize("prune", PRUNE_RULES)
def test_theta_shrinks_every_round_and_the_loop_ends(prune):
    _, res = _run(n_thetas=8, prune=prune)
    sizes = [len(r.thetas) for r in res.rounds]
    assert sizes[0] == 8
    assert all(b <= a - 1 for a, b in zip(sizes, sizes[1:]))
    assert len(res.rounds) <= 8
    last = res.rounds[-1]
    assert set(last.pruned) == set(last.thetas)  # Θ empty at the end
    assert res.rounds[-1].n_new == 0  # augment_last=False: nothing no model would train on


def test_halving_gives_log_rounds():
    _, res = _run(n_thetas=8, prune="half")
    assert [len(r.thetas) for r in res.rounds] == [8, 4, 2, 1]


def test_max_rounds_caps_the_loop():
    _, res = _run(n_thetas=8, max_rounds=2)
    assert len(res.rounds) == 2


def test_train_size_grows_by_the_added_points():
    _, res = _run()
    size = res.initial_train_size
    for r in res.rounds:
        size += r.n_new
        assert r.train_size == size


def test_same_seed_same_rounds_and_other_seed_differs():
    _, a = _run(seed=3)
    _, b = _run(seed=3)
    _, c = _run(seed=4)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()


def test_replay_resamples_previous_mistakes():
    _, plain = _run(n_thetas=8, replay=0)
    _, replay = _run(n_thetas=8, replay=2)
    r1 = replay.rounds[1]
    assert set(r1.new_sources) - set(r1.mistakes)  # sources from round 0's mistakes too
    assert replay.rounds[1].n_new > plain.rounds[1].n_new


def test_max_mistakes_caps_sources():
    _, res = _run(max_mistakes=3)
    assert len(set(res.rounds[0].new_sources)) <= 3


def test_result_round_trips_through_its_file(tmp_path):
    _, res = _run()
    again = AgoraResult.load(res.save(tmp_path / "agora_result.json"))
    assert again.to_dict() == res.to_dict() and "best_model" not in res.to_dict()
    assert again == res  # best_model is excluded from comparison
    assert again.best_model is None and res.best_model is not None
    assert list(res.to_frame()["round"]) == list(range(len(res.rounds)))


def test_weak_labeller_warns():
    _, p = _torus_parts()
    weak = torus.TorusLabeller(kind="oracle", noise=0.45, seed=0)
    with pytest.warns(UserWarning, match="2/3"):
        res = loop.augment(p["learner"], p["train"], p["dev"], p["thetas"],
                            sampler=p["sampler"], labeller=weak, progress=False)
    assert res.labeller_dev_accuracy <= 2 / 3


def test_prune_rules():
    names = ["a", "b", "c", "d", "e"]
    acc = [0.5, 0.9, 0.5, 0.7, 0.8]
    assert loop.prune_thetas(names, acc, "half") == ["a", "c"]
    assert loop.prune_thetas(names, acc, "longest-run") == ["a", "c"]
    assert loop.prune_thetas(names, [0.1, 0.2, 0.3, 0.4, 0.5], "longest-run") == ["a"]
    assert loop.prune_thetas(["x"], [0.3], "half") == ["x"]


def test_bound():
    assert loop.bound(1) == 1.0
    assert loop.bound(3) == pytest.approx(1.75)


# ----------------------------------------------------------------------------- validation
def test_empty_theta_raises():
    _, p = _torus_parts()
    with pytest.raises(ValueError, match="thetas"):
        loop.augment(p["learner"], p["train"], p["dev"], [], sampler=p["sampler"],
                      labeller=p["labeller"], progress=False)


def test_duplicate_theta_labels_raise():
    _, p = _torus_parts()
    th = [torus.KnnTheta(3), torus.KnnTheta(3)]
    with pytest.raises(ValueError, match="distinct"):
        loop.augment(p["learner"], p["train"], p["dev"], th, sampler=p["sampler"],
                      labeller=p["labeller"], progress=False)


def test_empty_dev_raises():
    _, p = _torus_parts()
    with pytest.raises(ValueError, match="dev"):
        loop.augment(p["learner"], p["train"], (np.zeros((0, 3)), np.zeros(0)), p["thetas"],
                      sampler=p["sampler"], labeller=p["labeller"], progress=False)


def test_agora_does_not_import_heavy_deps():
    import subprocess
    import sys

    code = ("import sys, bortkit.agora.loop; bad = [m for m in ('torch', 'plotly', 'umap', "
            "'sklearn', 'transformers') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
