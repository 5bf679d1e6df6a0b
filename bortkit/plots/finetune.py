"""Fine-tuning figures: per-θ results table, confusion matrix, model comparison, learning curves.

Records in (`bortkit.finetune.records.FinetuneResult`), figures out. Each figure has an `*_info`
function that shapes the data into a plain record (what tests assert on); the `*_figure`
function only draws. Learning curves reuse `bortkit.plots.training.training_figure`
(`FinetuneResult.series` provides its interface).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bortkit.finetune.records import FinetuneResult
from bortkit.plots.training import training_figure

THETA_COLUMNS = ("θ", "val acc", "val F1", "val MCC", "test acc", "test F1", "best ep",
                 "epochs", "seconds")


@dataclass(frozen=True)
class ThetaTable:
    """Rows of the per-θ table, best validation score first; `best` is the row index of it."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    best: int


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def theta_table_info(results: Sequence[FinetuneResult]) -> ThetaTable:
    """Shape `results` (one per θ) into table rows sorted by validation score (desc)."""
    if not results:
        raise ValueError("theta_table_info: no results given")
    ranked = sorted(results, key=lambda r: -r.val.get(r.metric))
    rows = []
    for r in ranked:
        test = r.test
        rows.append((r.theta.label, _fmt(r.val.accuracy), _fmt(r.val.macro_f1), _fmt(r.val.mcc),
                     _fmt(None if test is None else test.accuracy),
                     _fmt(None if test is None else test.macro_f1), r.best_epoch, r.epochs_run,
                     f"{r.seconds:.1f}"))
    return ThetaTable(THETA_COLUMNS, tuple(rows), 0)


def theta_table_figure(results: Sequence[FinetuneResult], *, title: str = "Results per θ") -> Any:
    """A plotly table, one row per θ, best validation score first (highlighted)."""
    import plotly.graph_objects as go

    info = theta_table_info(results)
    fill = [["#e8f4e8" if i == info.best else "white" for i in range(len(info.rows))]]
    fig = go.Figure(go.Table(
        header={"values": list(info.columns), "fill_color": "#dde6f0", "align": "left"},
        cells={"values": [list(col) for col in zip(*info.rows)], "fill_color": fill * 9,
               "align": "left"},
    ))
    fig.update_layout(title=title, height=min(120 + 28 * len(info.rows), 900),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


@dataclass(frozen=True)
class ConfusionInfo:
    """Counts (`counts[i][j]`: gold i predicted j), row-normalised rates, and class names."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    rates: tuple[tuple[float, ...], ...]
    split: str


def confusion_info(result: FinetuneResult, *, split: str = "test") -> ConfusionInfo:
    """The confusion matrix of `result` on "test" or "validation"."""
    if split not in ("test", "validation"):
        raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
    metrics = result.test if split == "test" else result.val
    if metrics is None:
        raise ValueError(f"result has no {split} scores")
    counts = metrics.confusion
    rates = tuple(tuple(v / max(1, sum(row)) for v in row) for row in counts)
    return ConfusionInfo(tuple(result.label_names), counts, rates, split)


def confusion_figure(result: FinetuneResult, *, split: str = "test",
                     title: str | None = None) -> Any:
    """Heatmap of the row-normalised confusion matrix; cells show counts and rates."""
    import plotly.graph_objects as go

    info = confusion_info(result, split=split)
    text = [[f"{c}<br>{r:.0%}" for c, r in zip(crow, rrow)]
            for crow, rrow in zip(info.counts, info.rates)]
    fig = go.Figure(go.Heatmap(
        z=[list(r) for r in info.rates], x=list(info.labels), y=list(info.labels), text=text,
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
        colorbar={"title": "row rate"},
    ))
    fig.update_layout(title=title or f"Confusion matrix ({split}, {result.source})",
                      xaxis_title="predicted", yaxis_title="gold", template="plotly_white",
                      yaxis={"autorange": "reversed"}, height=420, width=520)
    return fig


@dataclass(frozen=True)
class ComparisonInfo:
    """Scores per model (in input order) for each metric on one split."""

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]  # values[m][k]: metric m of model k
    split: str


def comparison_info(results: Mapping[str, FinetuneResult], *, split: str = "test",
                    metrics: Sequence[str] = ("accuracy", "macro_f1")) -> ComparisonInfo:
    """Shape `results` (model name -> FinetuneResult) for the comparison bar chart."""
    if not results:
        raise ValueError("comparison_info: no results given")
    if split not in ("test", "validation"):
        raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
    values = []
    for metric in metrics:
        row = []
        for name, r in results.items():
            m = r.test if split == "test" else r.val
            if m is None:
                raise ValueError(f"result {name!r} has no {split} scores")
            row.append(m.get(metric))
        values.append(tuple(row))
    return ComparisonInfo(tuple(results), tuple(metrics), tuple(values), split)


def comparison_figure(results: Mapping[str, FinetuneResult], *, split: str = "test",
                      metrics: Sequence[str] = ("accuracy", "macro_f1"),
                      title: str = "Models compared") -> Any:
    """Grouped bars: one group per metric, one bar per model."""
    import plotly.graph_objects as go

    info = comparison_info(results, split=split, metrics=metrics)
    fig = go.Figure()
    for k, model in enumerate(info.models):
        ys = [info.values[m][k] for m in range(len(info.metrics))]
        fig.add_trace(go.Bar(x=list(info.metrics), y=ys, name=model,
                             text=[f"{y:.3f}" for y in ys], textposition="outside"))
    fig.update_layout(title=f"{title} ({split})", barmode="group", template="plotly_white",
                      yaxis={"range": [min(0.0, *map(min, info.values)), 1.05]}, height=420)
    return fig


COMPARISON_COLUMNS = ("model", "θ", "epochs (best/run)", "val acc", "test acc", "test F1",
                      "test MCC", "seconds")


def comparison_table_info(results: Mapping[str, FinetuneResult]) -> ThetaTable:
    """One row per compared model (input order): its chosen θ, epochs, val/test scores, time."""
    if not results:
        raise ValueError("comparison_table_info: no results given")
    rows = []
    for name, r in results.items():
        test = r.test
        rows.append((str(name), r.theta.label, f"{r.best_epoch}/{r.epochs_run}",
                     _fmt(r.val.accuracy), _fmt(None if test is None else test.accuracy),
                     _fmt(None if test is None else test.macro_f1),
                     _fmt(None if test is None else test.mcc), f"{r.seconds:.0f}"))
    best = max(range(len(rows)), key=lambda i: list(results.values())[i].val.accuracy)
    return ThetaTable(COMPARISON_COLUMNS, tuple(rows), best)


def comparison_table_figure(results: Mapping[str, FinetuneResult], *,
                            title: str = "Models compared") -> Any:
    """A plotly table of `comparison_table_info` (best validation accuracy highlighted)."""
    import plotly.graph_objects as go

    info = comparison_table_info(results)
    fill = [["#e8f4e8" if i == info.best else "white" for i in range(len(info.rows))]]
    fig = go.Figure(go.Table(
        header={"values": list(info.columns), "fill_color": "#dde6f0", "align": "left"},
        cells={"values": [list(col) for col in zip(*info.rows)],
               "fill_color": fill * len(info.columns), "align": "left"}))
    fig.update_layout(title=title, height=min(140 + 28 * len(info.rows), 600),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def curves_figure(results: Mapping[str, FinetuneResult], *,
                  metrics: Sequence[str] = ("train_loss", "val_loss", "val_accuracy"),
                  title: str = "Fine-tuning learning curves") -> Any:
    """Learning curves (x = optimiser step) of several results, via `training_figure`."""
    return training_figure(results, metrics=metrics, title=title)


__all__ = [
    "COMPARISON_COLUMNS",
    "ComparisonInfo",
    "ConfusionInfo",
    "THETA_COLUMNS",
    "ThetaTable",
    "comparison_figure",
    "comparison_info",
    "comparison_table_figure",
    "comparison_table_info",
    "confusion_figure",
    "confusion_info",
    "curves_figure",
    "theta_table_figure",
    "theta_table_info",
]
