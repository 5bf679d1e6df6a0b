"""Figures for notebook 01: model sizes, latency, and measured vs predicted cost.

Each figure is two steps (optuna's `_get_..._info` / `_get_..._plot`): a `*_data` function
shapes `bortkit.measure` records (`ProfileReport`, `SizeRow`) into a small frozen record that
tests assert on, and a `*_figure` function draws it with plotly. No measuring happens here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from bortkit.measure.cost import CostAgreement
from bortkit.measure.paper import SizeRow
from bortkit.measure.records import ProfileReport
from bortkit.records import Record

_PARTS = ("embeddings", "encoder", "pooler")


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - plotly is pinned in requirements.txt
        raise ImportError("bortkit.plots needs plotly: pip install plotly") from exc
    return go


@dataclass(frozen=True)
class SizeBreakdownData(Record):
    """Millions of parameters per part (embeddings / encoder / pooler), one entry per model."""

    names: tuple[str, ...]
    parts: tuple[str, ...]
    millions: tuple[tuple[float, ...], ...]  # (part, model)
    net_fraction: tuple[float, ...]
    reference: str


def size_breakdown_data(rows: Sequence[SizeRow]) -> SizeBreakdownData:
    """Shape `bortkit.measure.paper.size_rows(...)` for the stacked size bars."""
    if not rows:
        raise ValueError("rows is empty: give at least one SizeRow")
    return SizeBreakdownData(
        names=tuple(r.name for r in rows),
        parts=_PARTS,
        millions=tuple(tuple(getattr(r, part) / 1e6 for r in rows) for part in _PARTS),
        net_fraction=tuple(r.net_fraction for r in rows),
        reference=rows[0].reference,
    )


def size_breakdown_figure(rows: Sequence[SizeRow]) -> Any:
    """Stacked bars: where each model's parameters live (embeddings dominate the small ones)."""
    go = _go()
    data = size_breakdown_data(rows)
    fig = go.Figure()
    for part, values in zip(data.parts, data.millions):
        fig.add_bar(
            name=part,
            x=list(data.names),
            y=list(values),
            hovertemplate="%{x}<br>" + part + ": %{y:.2f}M<extra></extra>",
        )
    totals = [sum(col) for col in zip(*data.millions)]
    fig.add_scatter(
        x=list(data.names),
        y=totals,
        mode="text",
        showlegend=False,
        hoverinfo="skip",
        text=[f"{f:.0%}" for f in data.net_fraction],
        textposition="top center",
    )
    fig.update_layout(
        barmode="stack",
        title=f"Parameters by part (labels: net size as a fraction of {data.reference})",
        xaxis_title="model",
        yaxis_title="parameters (millions)",
        legend_title="part",
    )
    return fig


@dataclass(frozen=True)
class LatencyData(Record):
    """Per-model latency with its spread, and size, for the latency figures."""

    names: tuple[str, ...]
    params_m: tuple[float, ...]
    latency_ms: tuple[float, ...]  # median
    err_minus: tuple[float, ...]  # median - p25
    err_plus: tuple[float, ...]  # p75 - median
    seq_len: int
    batch_size: int
    threads: int


def latency_data(report: ProfileReport) -> LatencyData:
    """Shape a `ProfileReport` for `latency_scatter_figure` and `latency_bars_figure`."""
    lats = report.latencies
    if not lats:
        raise ValueError("report holds no latencies")
    first = lats[0]
    return LatencyData(
        names=tuple(lat.name for lat in lats),
        params_m=tuple(lat.n_params / 1e6 for lat in lats),
        latency_ms=tuple(lat.latency_ms for lat in lats),
        err_minus=tuple(lat.latency_ms - lat.p25_ms for lat in lats),
        err_plus=tuple(lat.p75_ms - lat.latency_ms for lat in lats),
        seq_len=first.seq_len,
        batch_size=first.batch_size,
        threads=first.threads,
    )


def _conditions(d: LatencyData) -> str:
    return f"batch {d.batch_size}, seq {d.seq_len}, {d.threads} threads, fp32"


def latency_scatter_figure(report: ProfileReport) -> Any:
    """Median latency against parameter count, log-log, one labelled point per model."""
    go = _go()
    d = latency_data(report)
    fig = go.Figure(
        go.Scatter(
            x=list(d.params_m),
            y=list(d.latency_ms),
            mode="markers+text",
            text=list(d.names),
            textposition="top center",
            marker=dict(size=10),
            error_y=dict(
                type="data", symmetric=False, array=list(d.err_plus), arrayminus=list(d.err_minus)
            ),
            hovertemplate="%{text}<br>%{x:.1f}M params<br>%{y:.2f} ms<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"CPU latency vs size ({_conditions(d)}; bars: IQR)",
        xaxis=dict(title="parameters (millions, log)", type="log"),
        yaxis=dict(title="median latency (ms, log)", type="log"),
    )
    return fig


def latency_bars_figure(report: ProfileReport) -> Any:
    """Median latency per model, sorted, with interquartile error bars."""
    go = _go()
    d = latency_data(report)
    order = sorted(range(len(d.names)), key=lambda i: d.latency_ms[i])
    fig = go.Figure(
        go.Bar(
            x=[d.names[i] for i in order],
            y=[d.latency_ms[i] for i in order],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[d.err_plus[i] for i in order],
                arrayminus=[d.err_minus[i] for i in order],
            ),
            hovertemplate="%{x}: %{y:.2f} ms<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Median CPU latency ({_conditions(d)}; bars: IQR)",
        xaxis_title="model",
        yaxis_title="median latency (ms)",
    )
    return fig


def cost_agreement_figure(agreement: CostAgreement) -> Any:
    """Measured latency against predicted ops (log-log, with the fit), and the fit's residuals.

    Left: one point per candidate and the fitted line ms ∝ ops^slope; right: ln(measured /
    fitted) per candidate (points far from 0 are where the op count misleads). The title
    carries Spearman's ρ, the rank agreement the search relies on.
    """
    go = _go()
    from plotly.subplots import make_subplots

    a = agreement
    order = sorted(range(a.n), key=lambda j: a.predicted_ops[j])
    ops = [a.predicted_ops[j] for j in order]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"measured vs predicted (fit: ms ∝ ops^{a.slope:.2f}, R² {a.r2:.2f})",
        "residuals of the log-log fit"))
    hover = "%{text}<br>%{x:.3g} ops<br>%{y:.3g}<extra></extra>"
    fig.add_trace(go.Scatter(x=list(a.predicted_ops), y=list(a.measured_ms), mode="markers",
                             text=list(a.labels), name="candidate", hovertemplate=hover),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=ops, y=[a.fitted_ms[j] for j in order], mode="lines",
                             name="log-log fit", hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(x=list(a.predicted_ops), y=list(a.residuals), mode="markers",
                             text=list(a.labels), name="residual", hovertemplate=hover),
                  row=1, col=2)
    fig.add_hline(y=0.0, line_dash="dot", row=1, col=2)
    fig.update_xaxes(title_text="predicted ops (count_ops, log)", type="log")
    fig.update_yaxes(title_text="measured median latency (ms, log)", type="log", row=1, col=1)
    fig.update_yaxes(title_text="ln(measured / fitted)", row=1, col=2)
    fig.update_layout(title=f"Predicted vs measured cost on {a.device}: Spearman ρ = "
                      f"{a.spearman_rho:.3f} over {a.n} candidates (batch {a.batch_size}, "
                      f"seq {a.seq_len})")
    return fig


__all__ = [
    "LatencyData",
    "SizeBreakdownData",
    "cost_agreement_figure",
    "latency_bars_figure",
    "latency_data",
    "latency_scatter_figure",
    "size_breakdown_data",
    "size_breakdown_figure",
]
