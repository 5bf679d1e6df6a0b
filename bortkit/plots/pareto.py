"""Figures of an FPTAS run: the 3-D (p, i, e) front, its 2-D projections, and the spread of e.

`pareto_data(result)` shapes an `FptasResult` into a flat `ParetoData` record (tests assert on
it); `pareto_3d_figure`, `pareto_2d_figure` and `error_spread_figure` draw it. Units on the
axes: parameters in millions, operations i(ξ) in GFLOP per sequence, error as a fraction.

Measured and inherited points: a candidate the run did not train carries its group
representative's e (``Candidate.inherited``); it is drawn hollow and its hover says whose e it
is. The front is coloured by e.

Hover and card: a point's hover text is its candidate card (`card_lines`: shape, p, i, e, W,
θ, group, trained / inherited / audited, checkpoint yes/no), the same lines the explorer's card
shows, so the two cannot drift.

Landmarks: the members of Ξ nearest a Bort-like and a BERT-like shape (`reference_shapes`) are
marked wherever they have coordinates (the (p, i) panel always; the panels with e when the
run trained them or they inherited an e).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from bortkit.records import Record
from bortkit.search.result import Candidate, FptasResult
from bortkit.search.space import SearchSpace

LANDMARK_SYMBOLS = {"Bort-like": "diamond", "BERT-like": "square"}
ERROR_SCALE = "Viridis"


def reference_shapes(space: SearchSpace) -> dict[str, int]:
    """Indices in `space.specs()` of the members nearest a Bort-like and a BERT-like shape.

    PROJECT CHOICE (for plots only): Bort-like = depth ≈ max D / 3, the widest H, I ≈ 0.75·H,
    head dim ≈ 128 (Bort: 4 of 12 layers, H=1024, I=768, A=8); BERT-like = the deepest, the
    median H, I ≈ 4H, head dim ≈ 64 (BERT-base). Distances are summed |log ratios|.
    """
    specs = space.specs()

    def nearest(target: dict[str, float]) -> int:
        def dist(k: int) -> tuple[float, int]:
            s = specs[k]
            vals = {"D": s.D, "H": s.H, "I": s.I, "hd": s.H / s.A}
            return (sum(abs(math.log(vals[n] / t)) for n, t in target.items()), k)

        return min(range(len(specs)), key=dist)

    h_max = max(space.hidden)
    h_mid = sorted(space.hidden)[len(space.hidden) // 2]
    return {
        "Bort-like": nearest({"D": max(space.layers) / 3, "H": h_max, "I": 0.75 * h_max,
                              "hd": 128.0}),
        "BERT-like": nearest({"D": max(space.layers), "H": h_mid, "I": 4 * h_mid, "hd": 64.0}),
    }


def card_lines(c: Candidate, *, representative: str = "") -> tuple[str, ...]:
    """A candidate's card, one field per line: shape, p, i, e, W, θ, group, status, checkpoint.

    e, W, θ are "—" when the candidate has no e; an inherited e says whose it is
    (`representative`: that candidate's label, shown when given).
    """
    s = c.spec
    e = "—" if c.error is None else f"{c.error:.4f}"
    w = "—" if c.w is None else f"{c.w:.4g}"
    theta = "—" if c.theta is None else c.theta.label
    rep = f" ({representative})" if representative else ""
    status = (f"not trained: e inherited from representative #{c.representative}{rep}"
              if c.inherited else "trained by the audit" if c.audited
              else "trained" if c.trained else "not trained")
    return (s.label, f"D={s.D} A={s.A} H={s.H} I={s.I}", f"p={c.params:,} i={c.ops:,}",
            f"e={e} W={w}", f"θ={theta}", f"group {c.group}, representative #{c.representative}",
            status, f"checkpoint: {'yes' if c.checkpoint else 'no'}")


@dataclass(frozen=True)
class ParetoData(Record):
    """Plot-ready columns over all of Ξ (index = candidate index).

    `error` and `w` are None for candidates with no e (neither trained nor inherited);
    `trained` lists the measured candidates (representatives and `audited` members),
    `inherited` those whose e is their `representative`'s; `cards` each candidate's
    `card_lines` (its hover text).
    """

    labels: tuple[str, ...]
    params_m: tuple[float, ...]
    ops_g: tuple[float, ...]
    error: tuple[float | None, ...]
    w: tuple[float | None, ...]
    trained: tuple[int, ...]
    inherited: tuple[int, ...]
    audited: tuple[int, ...]
    representative: tuple[int, ...]
    front: tuple[int, ...]
    chosen: int
    landmarks: dict[str, int]
    title: str
    cards: tuple[tuple[str, ...], ...] = ()

    def hover(self, k: int) -> str:
        """Candidate `k`'s card (`card_lines`), one field per line."""
        return "<br>".join(self.cards[k]) if self.cards else self.labels[k]

    def symbols(self, idx: list[int] | tuple[int, ...]) -> list[str]:
        """Filled circles for measured points, hollow ones for inherited."""
        inherited = set(self.inherited)
        return ["circle-open" if k in inherited else "circle" for k in idx]


def pareto_data(result: FptasResult) -> ParetoData:
    """Shape an `FptasResult` for the figures."""
    c = result.candidates
    return ParetoData(
        labels=tuple(x.spec.label for x in c),
        params_m=tuple(x.params / 1e6 for x in c),
        ops_g=tuple(x.ops / 1e9 for x in c),
        error=tuple(x.error for x in c),
        w=tuple(x.w for x in c),
        trained=tuple(x.index for x in c if x.trained),
        inherited=tuple(x.index for x in c if x.inherited),
        audited=tuple(x.index for x in c if x.audited),
        representative=tuple(x.representative for x in c),
        front=tuple(result.front.indices),
        chosen=result.chosen.index,
        landmarks=reference_shapes(result.space),
        title=(f"{result.method}: {result.space.name} space, ε={result.config.epsilon:g}, "
               f"{result.n_trained}/{result.n_space} trained, {result.budget_steps} steps"),
        cards=tuple(card_lines(x, representative=c[x.representative].spec.label) for x in c),
    )


def _pick(values: tuple[Any, ...], idx: tuple[int, ...] | list[int]) -> list[Any]:
    return [values[k] for k in idx]


def _error_range(d: ParetoData) -> tuple[float, float]:
    known = [e for e in d.error if e is not None]
    return (min(known), max(known)) if known else (0.0, 1.0)


def pareto_3d_figure(data: ParetoData | FptasResult) -> Any:
    """3-D scatter over (p, i, e): front coloured by e, inherited hollow, choice, landmarks."""
    import plotly.graph_objects as go

    d = data if isinstance(data, ParetoData) else pareto_data(data)
    on_front = set(d.front)
    fig = go.Figure()

    def add(idx: list[int] | tuple[int, ...], name: str, **marker: Any) -> None:
        fig.add_trace(go.Scatter3d(
            x=_pick(d.params_m, idx), y=_pick(d.ops_g, idx), z=_pick(d.error, idx),
            mode="markers", name=name, marker=marker, customdata=list(idx),
            hovertext=[d.hover(k) for k in idx], hoverinfo="text"))

    add([k for k in d.trained if k not in on_front], "trained (dominated)", size=3,
        color="lightgray")
    add([k for k in d.inherited if k not in on_front], "inherited e (dominated)", size=3,
        color="darkgray", symbol="circle-open")
    lo, hi = _error_range(d)
    add(d.front, "Pareto front", size=5, color=_pick(d.error, d.front), colorscale=ERROR_SCALE,
        cmin=lo, cmax=hi, colorbar=dict(title="e"), symbol=d.symbols(d.front))
    add([d.chosen], "chosen (argmax W)", size=9, color="red", symbol="x")
    for name, k in d.landmarks.items():
        if d.error[k] is not None:
            add([k], f"{name} {d.labels[k]}", size=7, color="black",
                symbol=LANDMARK_SYMBOLS.get(name, "circle"))
    fig.update_layout(
        title=d.title + " (hollow: inherited e)", height=600,
        scene=dict(xaxis_title="parameters p (M)", yaxis_title="operations i (GFLOP/seq)",
                   zaxis_title="surrogate error e"))
    return fig


def pareto_2d_figure(data: ParetoData | FptasResult) -> Any:
    """Three projections: (p, i) over all of Ξ, (p, e) and (i, e) over every point with an e.

    The front is coloured by e; inherited and untrained points are hollow.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    d = data if isinstance(data, ParetoData) else pareto_data(data)
    allk = tuple(range(len(d.labels)))
    with_e = tuple(k for k in allk if d.error[k] is not None)
    panels = [("params_m", "ops_g", allk), ("params_m", "error", with_e),
              ("ops_g", "error", with_e)]
    titles = {"params_m": "parameters p (M)", "ops_g": "operations i (GFLOP/seq)",
              "error": "surrogate error e"}
    fig = make_subplots(rows=1, cols=3, subplot_titles=["p vs i (all of Ξ)", "p vs e", "i vs e"])
    lo, hi = _error_range(d)
    measured, front = set(d.trained), list(d.front)
    for col, (xa, ya, idx) in enumerate(panels, start=1):
        x, y = getattr(d, xa), getattr(d, ya)
        rest = [k for k in idx if k not in set(front)]
        groups = [
            ("candidates", [k for k in rest if k in measured], dict(size=5, color="lightgray")),
            ("inherited e / not trained", [k for k in rest if k not in measured],
             dict(size=5, color="darkgray", symbol="circle-open")),
            ("Pareto front", front,
             dict(size=8, color=_pick(d.error, front), colorscale=ERROR_SCALE, cmin=lo, cmax=hi,
                  showscale=col == 1, colorbar=dict(title="e"), symbol=d.symbols(front))),
            ("chosen (argmax W)", [d.chosen], dict(size=12, color="red", symbol="x")),
        ] + [(f"{n} {d.labels[k]}", [k] if (ya != "error" or d.error[k] is not None) else [],
              dict(size=11, color="black", symbol=LANDMARK_SYMBOLS.get(n, "circle")))
             for n, k in d.landmarks.items()]
        for name, ks, marker in groups:
            fig.add_trace(go.Scatter(
                x=_pick(x, ks), y=_pick(y, ks), mode="markers", name=name, marker=marker,
                legendgroup=name, showlegend=col == 1, customdata=ks,
                hovertext=[d.hover(k) for k in ks], hoverinfo="text"), row=1, col=col)
        fig.update_xaxes(title_text=titles[xa], row=1, col=col)
        fig.update_yaxes(title_text=titles[ya], row=1, col=col)
    fig.update_layout(title=d.title + " (front coloured by e; hollow: inherited e)", height=480,
                      legend=dict(orientation="h", yanchor="top", y=-0.3, x=0))
    return fig


def error_spread_figure(data: ParetoData | FptasResult) -> Any:
    """How e spreads over the trained candidates: a histogram above a strip of every point.

    Representatives and audited members are told apart in the strip; dashed lines mark the
    minimum, median and maximum. A narrow spread means e barely separates the candidates.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    d = data if isinstance(data, ParetoData) else pareto_data(data)
    errors = _pick(d.error, d.trained)
    lo, mid, hi = min(errors), statistics.median(errors), max(errors)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.05)
    fig.add_trace(go.Histogram(x=errors, name="trained candidates", marker_color="steelblue",
                               nbinsx=min(30, max(5, len(errors)))), row=1, col=1)
    audited = set(d.audited)
    for role, ks, color in (
        ("representatives", [k for k in d.trained if k not in audited], "steelblue"),
        ("trained by the audit", [k for k in d.trained if k in audited], "orange"),
    ):
        fig.add_trace(go.Scatter(
            x=_pick(d.error, ks), y=[role] * len(ks), mode="markers", name=role,
            marker=dict(size=8, color=color, opacity=0.7, symbol="line-ns-open"),
            customdata=ks, hovertext=[d.hover(k) for k in ks], hoverinfo="text"), row=2, col=1)
    for name, v in (("min", lo), ("median", mid), ("max", hi)):
        fig.add_vline(x=v, line_dash="dash", line_color="gray", annotation_text=f"{name} {v:.3f}",
                      row=1, col=1)
    fig.update_xaxes(title_text="surrogate error e", row=2, col=1)
    fig.update_yaxes(title_text="candidates", row=1, col=1)
    fig.update_layout(
        title=(f"e over {len(errors)} trained candidates: min {lo:.4f}, median {mid:.4f}, "
               f"max {hi:.4f}"), height=420, bargap=0.05)
    return fig


__all__ = ["ParetoData", "card_lines", "error_spread_figure", "pareto_2d_figure",
           "pareto_3d_figure", "pareto_data", "reference_shapes"]
