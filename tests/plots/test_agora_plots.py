"""bortkit.plots.agora and bortkit.widgets.agora: the round view record, the figures' data and
the round viewer's slider, on a small torus run."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit import embed
from bortkit.agora import torus
from bortkit.plots import agora as P
from bortkit.widgets.agora import AgoraViewer


@pytest.fixture(scope="module")
def run_and_projection():
    run = torus.run_torus(torus.TorusConfig(n_train=80, n_dev=80, n_test=100), seed=0)
    proj = embed.project_rounds(run.result, run.data.dev_x,
                                projector=embed.Projector(method="pca"))
    return run, proj


def test_round_view_matches_the_round(run_and_projection):
    run, proj = run_and_projection
    res = run.result
    for k, r in enumerate(res.rounds):
        v = P.round_view(res, proj, k)
        assert v.n_mistakes == len(r.mistakes)
        assert len(v.new_xy) == len(v.source_xy) == r.n_new
        assert v.new_labels == r.new_labels
        dev_xy = np.asarray(proj.coords)[proj.select("dev")]
        for s, sxy in zip(r.new_sources, v.source_xy):
            np.testing.assert_allclose(sxy, dev_xy[s])
    with pytest.raises(ValueError, match="round_index"):
        P.round_view(res, proj, len(res.rounds))


def test_rounds_figure_has_a_frame_and_slider_step_per_round(run_and_projection):
    run, proj = run_and_projection
    fig = P.rounds_figure(run.result, proj)
    assert [t.name for t in fig.data] == list(P.TRACE_NAMES)
    assert len(fig.frames) == len(run.result.rounds)
    assert len(fig.layout.sliders[0].steps) == len(run.result.rounds)
    r0 = run.result.rounds[0]
    assert len(fig.data[1].x) == len(r0.mistakes)
    assert len(fig.data[0].x) + len(fig.data[1].x) == len(run.result.dev_labels)
    assert len(fig.data[3].x) == r0.n_new
    assert len(fig.data[2].x) == 3 * r0.n_new  # one segment (source, new, gap) per new point
    assert fig.layout.xaxis.title.text == "projection 1"


def test_accuracy_figure(run_and_projection):
    run, _ = run_and_projection
    d = P.accuracy_data(run.result, extra=[("test", 0.9)])
    assert list(d.best) == run.result.accuracies
    assert len(d.theta_accuracy) == sum(len(r.thetas) for r in run.result.rounds)
    fig = P.accuracy_figure(run.result)
    assert [t.name for t in fig.data] == ["every θ", "best θ"]
    assert list(fig.data[1].y) == run.result.accuracies
    assert fig.layout.yaxis.title.text == "dev accuracy"


def test_viewer_slider_moves_the_figure(run_and_projection):
    run, proj = run_and_projection
    v = AgoraViewer(run.result, proj)
    assert v.slider.max == len(run.result.rounds) - 1 and v.round_index == 0
    v.slider.value = 1
    assert v.round_index == 1
    assert len(v.figure.data[1].x) == len(run.result.rounds[1].mistakes)
    v.show_round(0)
    assert v.slider.value == 0 and "round 0" in v.figure.layout.title.text
    with pytest.raises(ValueError, match="k must be"):
        v.show_round(99)
