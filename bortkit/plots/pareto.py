"""Figures of an FPTAS run: the 3-D (p, i, e) front and its 2-D projections.

`pareto_data(result)` shapes an `FptasResult` into a flat `ParetoData` record (tests assert on
it); `pareto_3d_figure` and `pareto_2d_figure` draw it. Units on the axes: parameters in
millions, operations i(ξ) in GFLOP per sequence, error as a fraction.

Landmarks: the members of Ξ nearest a Bort-like and a BERT-like shape (`reference_shapes`) are
marked wherever they have coordinates (the (p, i) panel always; the panels with e only if the
run trained them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bortkit.records import Record
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace

LANDMARK_SYMBOLS = {"Bort-like": "diamond", "BERT-like": "square"}


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


@dataclass(frozen=True)
class ParetoData(Record):
    """Plot-ready columns over all of Ξ (index = candidate index).

    `error` and `w` are None for candidates the trimming did not train.
    """

    labels: tuple[str, ...]
    params_m: tuple[float, ...]
    ops_g: tuple[float, ...]
    error: tuple[float | None, ...]
    w: tuple[float | None, ...]
    trained: tuple[int, ...]
    front: tuple[int, ...]
    chosen: int
    landmarks: dict[str, int]
    title: str

    def hover(self, k: int) -> str:
        e = "not trained" if self.error[k] is None else f"e={self.error[k]:.4f} W={self.w[k]:.4g}"
        return f"{self.labels[k]}<br>p={self.params_m[k]:.2f}M i={self.ops_g[k]:.3f}G<br>{e}"


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
        front=tuple(result.front.indices),
        chosen=result.chosen.index,
        landmarks=reference_shapes(result.space),
        title=(f"{result.method}: {result.space.name} space, ε={result.config.epsilon:g}, "
               f"{result.n_trained}/{result.n_space} trained, {result.budget_steps} steps"),
    )


def _pick(values: tuple[Any, ...], idx: tuple[int, ...] | list[int]) -> list[Any]:
    return [values[k] for k in idx]


def pareto_3d_figure(data: ParetoData | FptasResult) -> Any:
    """3-D scatter of the trained candidates over (p, i, e); front, choice, landmarks marked."""
    import plotly.graph_objects as go

    d = data if isinstance(data, ParetoData) else pareto_data(data)
    others = [k for k in d.trained if k not in set(d.front)]
    fig = go.Figure()

    def add(idx: list[int] | tuple[int, ...], name: str, **marker: Any) -> None:
        fig.add_trace(go.Scatter3d(
            x=_pick(d.params_m, idx), y=_pick(d.ops_g, idx), z=_pick(d.error, idx),
            mode="markers", name=name, marker=marker, customdata=list(idx),
            hovertext=[d.hover(k) for k in idx], hoverinfo="text"))

    add(others, "trained (dominated)", size=3, color="lightgray")
    add(d.front, "Pareto front", size=5, color=_pick(d.w, d.front), colorscale="Viridis",
        colorbar=dict(title="W"))
    add([d.chosen], "chosen (argmax W)", size=9, color="red", symbol="x")
    for name, k in d.landmarks.items():
        if d.error[k] is not None:
            add([k], f"{name} {d.labels[k]}", size=7, color="black",
                symbol=LANDMARK_SYMBOLS.get(name, "circle"))
    fig.update_layout(
        title=d.title, height=600,
        scene=dict(xaxis_title="parameters p (M)", yaxis_title="operations i (GFLOP/seq)",
                   zaxis_title="surrogate error e"))
    return fig


def pareto_2d_figure(data: ParetoData | FptasResult) -> Any:
    """Three projections: (p, i) over all of Ξ, (p, e) and (i, e) over the trained candidates."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    d = data if isinstance(data, ParetoData) else pareto_data(data)
    allk = tuple(range(len(d.labels)))
    panels = [("params_m", "ops_g", allk), ("params_m", "error", d.trained),
              ("ops_g", "error", d.trained)]
    titles = {"params_m": "parameters p (M)", "ops_g": "operations i (GFLOP/seq)",
              "error": "surrogate error e"}
    fig = make_subplots(rows=1, cols=3, subplot_titles=["p vs i (all of Ξ)", "p vs e", "i vs e"])
    for col, (xa, ya, idx) in enumerate(panels, start=1):
        x, y = getattr(d, xa), getattr(d, ya)
        front = list(d.front)
        rest = [k for k in idx if k not in set(front)]
        groups = [
            ("candidates", rest, dict(size=5, color="lightgray")),
            ("Pareto front", front, dict(size=7, color="royalblue")),
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
    fig.update_layout(title=d.title, height=450)
    return fig


__all__ = ["ParetoData", "pareto_2d_figure", "pareto_3d_figure", "pareto_data",
           "reference_shapes"]
