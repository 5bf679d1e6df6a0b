"""Figures of the teaching walkthrough (notebook 00), from `search.tour`, `search` and
`agora.torus` records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bortkit.agora.torus import TorusRun
from bortkit.records import Record
from bortkit.search.result import FptasResult
from bortkit.search.tour import EpsilonSweep


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover
        raise ImportError("plots need plotly: pip install plotly") from exc
    return go


def epsilon_sweep_figure(sweep: EpsilonSweep) -> Any:
    """Candidates trained (bars) and W relative to exhaustive (line) against ε."""
    go = _go()
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    labels = [f"{e:g}" for e in sweep.epsilons]
    fig.add_trace(go.Bar(x=labels, y=list(sweep.n_trained), name="candidates trained"))
    fig.add_trace(go.Scatter(x=labels, y=list(sweep.w_ratio), name="W / W(exhaustive)",
                             mode="lines+markers"), secondary_y=True)
    fig.add_trace(go.Scatter(x=labels, y=[1 - e for e in sweep.epsilons], name="goal 1 − ε",
                             mode="lines", line={"dash": "dot"}), secondary_y=True)
    fig.update_layout(title=f"FPTAS vs exhaustive ({sweep.n_space} candidates in Ξ)",
                      xaxis_title="ε")
    fig.update_yaxes(title_text="candidates trained", secondary_y=False)
    fig.update_yaxes(title_text="W ratio", range=[0, 1.05], secondary_y=True)
    return fig


@dataclass(frozen=True)
class WLandscape(Record):
    """Trained candidates' p, i, e and W, plus which one the search chose."""

    labels: tuple[str, ...]
    params: tuple[int, ...]
    ops: tuple[int, ...]
    error: tuple[float, ...]
    w: tuple[float, ...]
    chosen: str


def w_landscape(result: FptasResult) -> WLandscape:
    """The trained candidates of `result` as plot-ready columns (what the tests check)."""
    trained = [c for c in result.candidates if c.trained]
    return WLandscape(
        tuple(c.spec.label for c in trained),
        tuple(c.params for c in trained),
        tuple(c.ops for c in trained),
        tuple(float(c.error) for c in trained),
        tuple(float(c.w) for c in trained),
        result.chosen.spec.label,
    )


def w_landscape_figure(data: WLandscape) -> Any:
    """Parameters vs error of every trained candidate, coloured by W; the argmax is starred."""
    go = _go()
    hover = [f"{lab}<br>p={p:,}<br>i={i:,}<br>e={e:.3f}<br>W={w:.3f}"
             for lab, p, i, e, w in zip(data.labels, data.params, data.ops, data.error, data.w)]
    fig = go.Figure(go.Scatter(
        x=list(data.params), y=list(data.error), mode="markers", name="candidates",
        marker={"color": list(data.w), "colorscale": "Viridis", "size": 9,
                "colorbar": {"title": "W"}},
        text=hover, hoverinfo="text"))
    k = data.labels.index(data.chosen)
    fig.add_trace(go.Scatter(x=[data.params[k]], y=[data.error[k]], mode="markers",
                             name=f"argmax W: {data.chosen}",
                             marker={"symbol": "star", "size": 18, "color": "red"}))
    fig.update_layout(title="W-coefficient: small, cheap and accurate wins",
                      xaxis_title="parameters p", yaxis_title="surrogate error e",
                      xaxis_type="log")
    return fig


def torus_figure(run: TorusRun, *, round_index: int = 0) -> Any:
    """The torus toy in 3-D: train (partial coverage), dev mistakes, and one round's new points."""
    go = _go()
    data, rnd = run.data, run.result.rounds[round_index]
    fig = go.Figure()
    tx = np.asarray(data.train_x)
    fig.add_trace(go.Scatter3d(x=tx[:, 0], y=tx[:, 1], z=tx[:, 2], mode="markers",
                               name="train", marker={"size": 2, "color": np.asarray(data.train_y),
                                                     "colorscale": [[0, "#9ecae1"],
                                                                    [1, "#fdae6b"]]}))
    dx = np.asarray(data.dev_x)
    mistakes = np.asarray(rnd.mistakes, dtype=int)
    if len(mistakes):
        fig.add_trace(go.Scatter3d(x=dx[mistakes, 0], y=dx[mistakes, 1], z=dx[mistakes, 2],
                                   mode="markers", name="dev mistakes",
                                   marker={"size": 5, "symbol": "x", "color": "black"}))
    if rnd.n_new:
        nx = np.asarray(rnd.new_points, dtype=float)
        fig.add_trace(go.Scatter3d(x=nx[:, 0], y=nx[:, 1], z=nx[:, 2], mode="markers",
                                   name="new (labeller's label)",
                                   marker={"size": 3, "symbol": "diamond",
                                           "color": list(rnd.new_labels),
                                           "colorscale": [[0, "#3182bd"], [1, "#e6550d"]]}))
    fig.update_layout(title=f"Agora on the torus, round {round_index}: "
                      f"dev accuracy {rnd.best_dev_accuracy:.2f}",
                      scene={"aspectmode": "data"})
    return fig


__all__ = ["WLandscape", "epsilon_sweep_figure", "torus_figure", "w_landscape",
           "w_landscape_figure"]
