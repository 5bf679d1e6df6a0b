"""The round view of issue 15 (bortkit.embed.project_rounds, bortkit.plots.agora,
bortkit.widgets.agora): new points by sampler and the random-source control, round by round, in
one coordinate system."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit import embed
from bortkit.agora import loop, torus
from bortkit.agora.records import AgoraConfig
from bortkit.plots import agora as P
from bortkit.widgets.agora import AgoraViewer


class TwoKinds(torus.TorusSampler):
    """The torus sampler, naming alternate points "mask-refill" and "pool"."""

    def sample(self, sources, **kw):
        new, src = super().sample(sources, **kw)
        self.last_kinds_ = ["mask-refill" if i % 2 == 0 else "pool" for i in range(len(new))]
        return new, src


@pytest.fixture(scope="module")
def runs():
    data = torus.make_torus(n_train=100, n_dev=100, n_test=50, seed=0)
    parts = dict(thetas=torus.torus_thetas(4), sampler=TwoKinds(),
                 labeller=torus.TorusLabeller(seed=0, n_samples=400), progress=False)
    train, dev = (data.train_x, data.train_y), (data.dev_x, data.dev_y)
    agora = loop.augment(torus.KnnLearner(), train, dev, config=AgoraConfig(), **parts)
    control = loop.augment(torus.KnnLearner(), train, dev, match=agora.added_per_round,
                           config=AgoraConfig(source="random"), **parts)
    proj = embed.project_rounds(agora, data.dev_x, projector=embed.Projector(method="pca"),
                                control=control, train_points=data.train_x)
    return data, agora, control, proj


def test_projection_holds_the_controls_points_and_their_train_sources(runs):
    data, agora, control, proj = runs
    for rnd in control.rounds:
        assert len(proj.select("control", rnd.index)) == rnd.n_new
    used = sorted({s for rnd in control.rounds for s in rnd.new_sources})
    train_rows = proj.select("train")
    assert sorted(proj.ids[i] for i in train_rows) == used
    assert len(proj.select("new")) == sum(agora.added_per_round)


def test_round_view_and_figure_show_samplers_and_the_control(runs):
    data, agora, control, proj = runs
    r0 = agora.rounds[0]
    view = P.round_view(agora, proj, 0, control=control)
    assert view.new_kinds == r0.new_kinds and set(r0.new_kinds) == {"mask-refill", "pool"}
    assert len(view.control_xy) == len(view.control_source_xy) == control.rounds[0].n_new
    train_xy = {proj.ids[i]: proj.coords[i] for i in proj.select("train")}
    for s, sxy in zip(control.rounds[0].new_sources, view.control_source_xy):
        np.testing.assert_allclose(sxy, train_xy[s])
    fig = P.rounds_figure(agora, proj, control=control)
    assert [t.name for t in fig.data] == list(P.TRACE_NAMES)
    symbols = list(fig.data[3].marker.symbol)
    assert symbols == [P.KIND_SYMBOLS[k] for k in r0.new_kinds]
    assert len(fig.data[5].x) == control.rounds[0].n_new
    assert len(fig.data[4].x) == 3 * control.rounds[0].n_new
    without = P.rounds_figure(agora, proj)  # no control: its traces are empty
    assert len(without.data[5].x) == 0


def test_viewer_redraws_the_control_round_by_round(runs):
    _, agora, control, proj = runs
    viewer = AgoraViewer(agora, proj, control=control)
    viewer.show_round(1)
    assert len(viewer.figure.data[5].x) == control.rounds[1].n_new
    assert len(viewer.figure.data[3].x) == agora.rounds[1].n_new
    viewer.show_round(0)
    assert list(viewer.figure.data[3].marker.symbol) == [
        P.KIND_SYMBOLS[k] for k in agora.rounds[0].new_kinds]
