"""Figures for notebook 05 (Agora): the per-round UMAP scatter and the accuracy-per-round curve.

Two steps per figure: `round_view` / `accuracy_data` shape an `AgoraResult` (and its
random-source control) and an `embed.Projection` into small frozen records (what tests assert
on); the `*_figure` functions draw them. Nothing is computed here beyond indexing.

The scatter shows, round by round: dev-A points (circle: the round's best θ is right, ×: a
mistake; colour = gold label), the new points Agora added (symbol = the sampler that made it:
diamond mask-and-refill, square pool; colour = the labeller's label) linked to their source
mistake, and the control's new points (triangles) linked to the random train points they were
sampled around.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from bortkit.agora.records import AgoraResult
from bortkit.embed import Projection

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
TRACE_NAMES = ("dev: correct", "dev: mistake", "new ← source", "new point",
               "control ← train source", "control point")
#: Marker symbol of a new point by the sampler that made it (`AgoraRound.new_kinds`).
KIND_SYMBOLS = {"mask-refill": "diamond", "pool": "square"}


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - plotly is pinned in requirements.txt
        raise ImportError("bortkit.plots needs plotly: pip install plotly") from exc
    return go


def _colour(label: int) -> str:
    return PALETTE[int(label) % len(PALETTE)]


@dataclass(frozen=True)
class RoundView:
    """What the scatter of one round shows (all coordinates in the run's shared projection)."""

    round_index: int
    title: str
    dev_xy: tuple[tuple[float, float], ...]
    dev_labels: tuple[int, ...]  # gold
    dev_correct: tuple[bool, ...]  # under this round's best θ
    dev_texts: tuple[str, ...]
    new_xy: tuple[tuple[float, float], ...]
    new_labels: tuple[int, ...]  # the labeller's
    new_confidence: tuple[float, ...]
    new_texts: tuple[str, ...]
    source_xy: tuple[tuple[float, float], ...]  # the source mistake of each new point
    new_kinds: tuple[str, ...] = ()  # the sampler of each new point
    control_xy: tuple[tuple[float, float], ...] = ()  # the control's new points
    control_labels: tuple[int, ...] = ()
    control_texts: tuple[str, ...] = ()
    control_source_xy: tuple[tuple[float, float], ...] = ()  # the train point it came from

    @property
    def n_mistakes(self) -> int:
        return sum(1 for c in self.dev_correct if not c)


def round_view(result: AgoraResult, projection: Projection, round_index: int, *,
               control: AgoraResult | None = None) -> RoundView:
    """Shape round `round_index` of `result` (and of its `control`) for `round_figure`."""
    if not 0 <= round_index < len(result.rounds):
        raise ValueError(f"round_index must be in [0, {len(result.rounds)}), got {round_index!r}")
    rnd = result.rounds[round_index]
    dev_rows = projection.select("dev")
    if len(dev_rows) != len(result.dev_labels):
        raise ValueError(f"projection has {len(dev_rows)} dev points, the result has "
                         f"{len(result.dev_labels)}: project the same dev set")
    new_rows = projection.select("new", rnd.index)
    if len(new_rows) != rnd.n_new:
        raise ValueError(f"projection has {len(new_rows)} new points for round {rnd.index}, the "
                         f"result has {rnd.n_new}")
    dev_by_id = {projection.ids[i]: i for i in dev_rows}
    dev_xy = tuple(projection.coords[dev_by_id[j]] for j in range(len(dev_rows)))
    title = (f"round {rnd.index}: |Θ|={len(rnd.thetas)}, best {rnd.best_theta}, "
             f"dev acc {rnd.best_dev_accuracy:.3f}, {len(rnd.mistakes)} mistakes, "
             f"+{rnd.n_new} points, train {rnd.train_size}")
    ctrl: dict[str, Any] = {}
    if control is not None and round_index < len(control.rounds):
        crnd = control.rounds[round_index]
        rows = projection.select("control", crnd.index)
        if len(rows) != crnd.n_new:
            raise ValueError(f"projection has {len(rows)} control points for round "
                             f"{crnd.index}, the control has {crnd.n_new}")
        train = {projection.ids[i]: projection.coords[i] for i in projection.select("train")}
        ctrl = dict(control_xy=tuple(projection.coords[i] for i in rows),
                    control_labels=crnd.new_labels,
                    control_texts=tuple(projection.texts[i] for i in rows),
                    control_source_xy=tuple(train.get(s, projection.coords[i])
                                            for s, i in zip(crnd.new_sources, rows)))
    return RoundView(
        round_index=rnd.index, title=title, dev_xy=dev_xy, dev_labels=result.dev_labels,
        dev_correct=tuple(p == y for p, y in zip(rnd.dev_predictions, result.dev_labels)),
        dev_texts=tuple(projection.texts[dev_by_id[j]] for j in range(len(dev_rows))),
        new_xy=tuple(projection.coords[i] for i in new_rows),
        new_labels=rnd.new_labels, new_confidence=rnd.new_confidence,
        new_texts=tuple(projection.texts[i] for i in new_rows),
        source_xy=tuple(dev_xy[s] for s in rnd.new_sources),
        new_kinds=rnd.new_kinds or ("sampler",) * rnd.n_new, **ctrl,
    )


def _round_traces(view: RoundView) -> list[Any]:
    """The four traces of a round, always in `TRACE_NAMES` order (slider frames rely on it)."""
    go = _go()
    ok = [i for i, c in enumerate(view.dev_correct) if c]
    bad = [i for i, c in enumerate(view.dev_correct) if not c]

    def dev_trace(idx: list[int], name: str, symbol: str) -> Any:
        return go.Scatter(
            x=[view.dev_xy[i][0] for i in idx], y=[view.dev_xy[i][1] for i in idx],
            mode="markers", name=name,
            marker=dict(symbol=symbol, size=7 if symbol == "circle" else 10, opacity=0.6,
                        color=[_colour(view.dev_labels[i]) for i in idx]),
            text=[view.dev_texts[i] for i in idx],
            customdata=[view.dev_labels[i] for i in idx],
            hovertemplate="%{text}<br>gold label %{customdata}<extra>" + name + "</extra>")

    def links(src: Sequence[tuple[float, float]], dst: Sequence[tuple[float, float]],
              name: str, colour: str) -> Any:
        lx: list[float | None] = []
        ly: list[float | None] = []
        for (sx, sy), (nx, ny) in zip(src, dst):
            lx += [sx, nx, None]
            ly += [sy, ny, None]
        return go.Scatter(x=lx, y=ly, mode="lines", name=name, hoverinfo="skip",
                          line=dict(width=0.6, color=colour))

    kinds = view.new_kinds or ("sampler",) * len(view.new_xy)
    new = go.Scatter(
        x=[p[0] for p in view.new_xy], y=[p[1] for p in view.new_xy], mode="markers",
        name=TRACE_NAMES[3], marker=dict(symbol=[KIND_SYMBOLS.get(k, "diamond") for k in kinds],
                                         size=7, line=dict(width=0.5),
                                         color=[_colour(v) for v in view.new_labels]),
        text=list(view.new_texts),
        customdata=[[lab, c, k] for lab, c, k in zip(view.new_labels, view.new_confidence,
                                                     kinds)],
        hovertemplate=("%{text}<br>labeller: %{customdata[0]} (p=%{customdata[1]:.2f}), "
                       "sampler: %{customdata[2]}<extra>new point</extra>"))
    control = go.Scatter(
        x=[p[0] for p in view.control_xy], y=[p[1] for p in view.control_xy], mode="markers",
        name=TRACE_NAMES[5], marker=dict(symbol="triangle-up-open", size=7,
                                         color=[_colour(v) for v in view.control_labels]),
        text=list(view.control_texts), customdata=list(view.control_labels),
        hovertemplate="%{text}<br>labeller: %{customdata}<extra>control point</extra>")
    return [dev_trace(ok, TRACE_NAMES[0], "circle"), dev_trace(bad, TRACE_NAMES[1], "x"),
            links(view.source_xy, view.new_xy, TRACE_NAMES[2], "rgba(80,80,80,0.45)"), new,
            links(view.control_source_xy, view.control_xy, TRACE_NAMES[4],
                  "rgba(150,150,150,0.3)"), control]


def round_figure(view: RoundView) -> Any:
    """Scatter of one round: dev points (circle correct / x mistake), new points (diamonds)
    linked to their source mistake; colour = label (gold for dev, the labeller's for new)."""
    go = _go()
    fig = go.Figure(_round_traces(view))
    fig.update_layout(title=view.title, xaxis_title="projection 1", yaxis_title="projection 2",
                      legend_title="colour = label", template="plotly_white")
    return fig


def rounds_figure(result: AgoraResult, projection: Projection, *,
                  control: AgoraResult | None = None) -> Any:
    """All rounds in one figure with plotly's own slider (works in a saved HTML, no kernel);
    with `control`, its new points too (the projection must hold them: `project_rounds`)."""
    go = _go()
    views = [round_view(result, projection, k, control=control)
             for k in range(len(result.rounds))]
    if not views:
        raise ValueError("result has no rounds")
    fig = go.Figure(_round_traces(views[0]))
    fig.frames = [go.Frame(data=_round_traces(v), name=str(v.round_index),
                           layout=go.Layout(title_text=v.title)) for v in views]
    steps = [dict(method="animate", label=str(v.round_index),
                  args=[[str(v.round_index)], dict(mode="immediate", frame=dict(duration=0,
                                                   redraw=True), transition=dict(duration=0))])
             for v in views]
    xs = [c[0] for c in projection.coords] or [0.0]
    ys = [c[1] for c in projection.coords] or [0.0]
    pad = 0.05 * max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    fig.update_layout(
        title=views[0].title, template="plotly_white", legend_title="colour = label",
        xaxis=dict(title="projection 1", range=[min(xs) - pad, max(xs) + pad]),
        yaxis=dict(title="projection 2", range=[min(ys) - pad, max(ys) + pad]),
        sliders=[dict(active=0, currentvalue=dict(prefix="round "), steps=steps)])
    return fig


@dataclass(frozen=True)
class AccuracyData:
    """Accuracy per round: the best θ, every θ, the labeller's reference line."""

    rounds: tuple[int, ...]
    best: tuple[float, ...]
    theta_rounds: tuple[int, ...]  # one entry per (round, θ)
    theta_accuracy: tuple[float, ...]
    theta_names: tuple[str, ...]
    train_size: tuple[int, ...]
    labeller: float
    extra: tuple[tuple[str, float], ...] = ()  # e.g. ("test accuracy", 0.9) reference lines


def accuracy_data(result: AgoraResult, *, extra: Sequence[tuple[str, float]] = ()) -> AccuracyData:
    """Shape `result` for `accuracy_figure`."""
    tr, ta, tn = [], [], []
    for r in result.rounds:
        tr += [r.index] * len(r.thetas)
        ta += list(r.dev_accuracy)
        tn += list(r.thetas)
    return AccuracyData(tuple(r.index for r in result.rounds), tuple(result.accuracies),
                        tuple(tr), tuple(ta), tuple(tn),
                        tuple(r.train_size for r in result.rounds),
                        result.labeller_dev_accuracy, tuple((str(k), float(v)) for k, v in extra))


def accuracy_figure(result: AgoraResult, *, extra: Sequence[tuple[str, float]] = ()) -> Any:
    """Dev accuracy of the best θ per round (line), every θ (dots), the labeller (dashed)."""
    go = _go()
    d = accuracy_data(result, extra=extra)
    fig = go.Figure()
    fig.add_scatter(x=list(d.theta_rounds), y=list(d.theta_accuracy), mode="markers",
                    name="every θ", text=list(d.theta_names), marker=dict(size=6, opacity=0.5),
                    hovertemplate="round %{x}: %{text}<br>dev acc %{y:.3f}<extra></extra>")
    fig.add_scatter(x=list(d.rounds), y=list(d.best), mode="lines+markers", name="best θ",
                    customdata=list(d.train_size),
                    hovertemplate="round %{x}<br>dev acc %{y:.3f}<br>train after round "
                                  "%{customdata}<extra></extra>")
    fig.add_hline(y=d.labeller, line_dash="dash", annotation_text="labeller dev accuracy")
    for name, value in d.extra:
        fig.add_hline(y=value, line_dash="dot", annotation_text=name)
    fig.update_layout(title="Agora: dev accuracy per round", xaxis_title="round",
                      yaxis_title="dev accuracy", template="plotly_white",
                      xaxis=dict(tickmode="linear", dtick=1))
    return fig


__all__ = [
    "AccuracyData",
    "KIND_SYMBOLS",
    "PALETTE",
    "RoundView",
    "TRACE_NAMES",
    "accuracy_data",
    "accuracy_figure",
    "round_figure",
    "round_view",
    "rounds_figure",
]
