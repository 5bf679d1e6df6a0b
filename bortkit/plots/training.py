"""Learning-curve figures: any number of runs, any metrics, one subplot per metric.

Generic on purpose (pretraining and fine-tuning both use it): a run is either a record with a
`series(metric) -> (steps, values)` method (e.g. `bortkit.pretrain.records.LearningCurve`) or a
plain mapping ``metric -> (steps, values)``. `curves_info` shapes the data (tests assert on it);
`training_figure` only draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bortkit.records import Record

LABELS = {
    "train_loss": "training loss",
    "train_mlm": "training MLM loss",
    "train_kd": "training KD term",
    "eval_error": "held-out masked-token error",
    "eval_accuracy": "held-out masked-token accuracy",
    "eval_loss": "held-out MLM loss",
}


@dataclass(frozen=True)
class CurveSeries(Record):
    """One line: a run's values of one metric against the step."""

    run: str
    metric: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class CurvesInfo(Record):
    """Everything `training_figure` draws: metrics (subplots, in order) and their series."""

    metrics: tuple[str, ...]
    series: tuple[CurveSeries, ...]

    def for_metric(self, metric: str) -> tuple[CurveSeries, ...]:
        return tuple(s for s in self.series if s.metric == metric)


def _series_of(run: Any, metric: str) -> tuple[Sequence[int], Sequence[float]]:
    if hasattr(run, "series"):
        return run.series(metric)
    if isinstance(run, Mapping):
        if metric not in run:
            raise ValueError(f"run has no metric {metric!r}; it has {sorted(run)}")
        return run[metric]
    raise TypeError(f"a run must have .series(metric) or be a mapping, got {type(run).__name__}")


def curves_info(runs: Mapping[str, Any], *, metrics: Sequence[str] = ("train_loss", "eval_error")
                ) -> CurvesInfo:
    """Shape the learning curves of `runs` (name -> record) for the given `metrics`."""
    if not runs:
        raise ValueError("curves_info: no runs given")
    if not metrics:
        raise ValueError("curves_info: no metrics given")
    out = []
    for metric in metrics:
        for name, run in runs.items():
            steps, values = _series_of(run, metric)
            if len(steps) != len(values):
                raise ValueError(f"run {name!r} metric {metric!r}: {len(steps)} steps but "
                                 f"{len(values)} values")
            out.append(CurveSeries(str(name), metric, tuple(int(s) for s in steps),
                                   tuple(float(v) for v in values)))
    return CurvesInfo(tuple(metrics), tuple(out))


def training_figure(runs: Mapping[str, Any], *,
                    metrics: Sequence[str] = ("train_loss", "eval_error"),
                    title: str = "Learning curves") -> Any:
    """One subplot per metric, one line per run (x = optimiser step)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    info = curves_info(runs, metrics=metrics)
    fig = make_subplots(rows=1, cols=len(info.metrics),
                        subplot_titles=[LABELS.get(m, m) for m in info.metrics])
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
    runs_order = list(dict.fromkeys(s.run for s in info.series))
    for col, metric in enumerate(info.metrics, start=1):
        for s in info.for_metric(metric):
            colour = colours[runs_order.index(s.run) % len(colours)]
            fig.add_trace(go.Scatter(x=s.steps, y=s.values, mode="lines+markers"
                                     if len(s.steps) < 30 else "lines", name=s.run,
                                     legendgroup=s.run, showlegend=col == 1,
                                     line={"color": colour}), row=1, col=col)
        fig.update_xaxes(title_text="step", row=1, col=col)
        fig.update_yaxes(title_text=LABELS.get(metric, metric), row=1, col=col)
    fig.update_layout(title=title, template="plotly_white", height=380,
                      width=max(520, 460 * len(info.metrics)))
    return fig


__all__ = ["CurveSeries", "CurvesInfo", "curves_info", "training_figure"]
