"""bortkit.agora.loop, issue 15: the selection slice (dev-B) chooses the final round, the
random-source control adds exactly as many points per round, the labeller is scored on each
round's mistakes, acceptance is counted per sampler, and no dev-A/dev-B point reaches train."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit.agora import loop, torus
from bortkit.agora.records import AgoraConfig, AgoraResult, AgoraRound


def _parts(seed=0, n_thetas=4):
    data = torus.make_torus(n_train=120, n_dev=160, n_test=100, seed=seed)
    dev_a = (data.dev_x[:100], data.dev_y[:100])
    dev_b = (data.dev_x[100:], data.dev_y[100:])
    return data, dev_a, dev_b, dict(
        sampler=torus.TorusSampler(), labeller=torus.TorusLabeller(seed=seed, n_samples=600))


def _run(config, *, select=True, match=None, seed=0, sampler=None):
    data, dev_a, dev_b, p = _parts(seed)
    return loop.augment(torus.KnnLearner(), (data.train_x, data.train_y), dev_a,
                        torus.torus_thetas(4), sampler=sampler or p["sampler"],
                        labeller=p["labeller"], config=config, seed=seed, progress=False,
                        select=dev_b if select else None, match=match), data, dev_a, dev_b


def test_selection_slice_chooses_the_final_round():
    res, data, dev_a, dev_b = _run(AgoraConfig())
    sel = [r.select_accuracy for r in res.rounds]
    assert all(s is not None for s in sel) and res.select_labels == tuple(dev_b[1])
    assert res.best_select_accuracy == max(sel)
    assert res.best_round == sel.index(max(sel))  # ties: higher dev accuracy, then earlier
    learner = torus.KnnLearner()
    got = np.mean(learner.predict(res.best_model, dev_b[0])[0] == dev_b[1])
    assert got == pytest.approx(res.best_select_accuracy)
    # round 0's model is plain fitting on the initial train set (the no-Agora baseline)
    r0 = np.mean(learner.predict(res.round0_model, dev_a[0])[0] == dev_a[1])
    assert r0 == pytest.approx(res.rounds[0].best_dev_accuracy)
    # without a selection slice, the final round is chosen on dev (the first build's rule)
    plain, *_ = _run(AgoraConfig(), select=False)
    assert plain.best_select_accuracy is None
    assert plain.best_dev_accuracy == max(r.best_dev_accuracy for r in plain.rounds)


def test_no_dev_a_or_dev_b_point_is_ever_added_to_train():
    class Copier:  # proposes dev-B points too: every one must be dropped
        def __init__(self, extra):
            self.extra = extra

        def sample(self, sources, *, n_per_source, band, seed):
            new = np.concatenate([sources, self.extra[:len(sources)], sources + 0.01])
            return new, np.concatenate([np.arange(len(sources))] * 3)

    _, _, dev_b, _ = _parts()
    res, data, dev_a, dev_b = _run(AgoraConfig(augment_last=True), sampler=Copier(dev_b[0]))
    held = {tuple(x) for x in np.concatenate([dev_a[0], dev_b[0]]).tolist()}
    for r in res.rounds:
        assert r.n_new == len(r.mistakes)  # only the +0.01 points survive
        assert not held & {tuple(p) for p in r.new_points}


def test_control_samples_around_random_train_points_and_matches_the_counts():
    agora, data, *_ = _run(AgoraConfig(augment_last=True))
    control, *_ = _run(AgoraConfig(augment_last=True, source="random"),
                       match=agora.added_per_round)
    assert control.added_per_round == agora.added_per_round  # the same number of points
    assert sum(agora.added_per_round) > 0
    for r in control.rounds:
        assert r.source_kind == "random"
        assert set(r.new_sources) <= set(r.sources)
        assert all(0 <= s < len(data.train_y) for s in r.sources)  # train indices, not dev
    for a, c in zip(agora.rounds, control.rounds):
        assert a.source_kind == "mistakes" and set(a.sources) <= set(a.mistakes)
        assert len(a.thetas) == len(c.thetas)  # the same rounds: equal fits, equal steps
    unmatched, *_ = _run(AgoraConfig(source="random"))
    assert unmatched.rounds[0].n_new > 0  # without match: one chunk of sources


def test_match_needs_the_random_source():
    with pytest.raises(ValueError, match="match"):
        _run(AgoraConfig(), match=(3, 3))


def test_labeller_accuracy_on_each_rounds_mistakes_is_recorded():
    res, data, dev_a, _ = _run(AgoraConfig())
    labeller = torus.TorusLabeller(seed=0, n_samples=600)
    lab = labeller.label(dev_a[0])[0]
    for r in res.rounds:
        m = np.asarray(r.mistakes)
        assert r.labeller_mistake_accuracy == pytest.approx(np.mean(lab[m] == dev_a[1][m]))


def test_accepted_proposals_per_source_by_sampler():
    class Counting(torus.TorusSampler):
        kind = "gauss"

        def sample(self, sources, **kw):
            new, src = super().sample(sources, **kw)
            self.last_proposals_ = {"gauss": 3 * len(sources) * kw["n_per_source"]}
            return new, src

    res, *_ = _run(AgoraConfig(), sampler=Counting())
    r0 = res.rounds[0]
    assert set(r0.new_kinds) == {"gauss"} and r0.proposals == (("gauss", 3 * 4 * len(r0.sources)),)
    assert r0.accepted_per_source()["gauss"] == pytest.approx(r0.n_new / len(r0.sources))
    assert 0 < r0.acceptance_rate()["gauss"] <= 1
    again = AgoraRound.from_dict(r0.to_dict())
    assert again == r0 and again.accepted_per_source() == r0.accepted_per_source()
    assert "accepted_per_source[gauss]" in res.to_frame().columns


def test_result_with_selection_round_trips(tmp_path):
    res, *_ = _run(AgoraConfig())
    again = AgoraResult.load(res.save(tmp_path / "r.json"))
    assert again == res and again.round0_model is None and again.best_model is None
    assert "round0_model" not in res.to_dict()


def test_bad_source_raises():
    with pytest.raises(ValueError, match="source"):
        AgoraConfig(source="anywhere")
