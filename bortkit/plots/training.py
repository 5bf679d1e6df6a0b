"""Learning-curve figures: any number of runs, any metrics, one subplot per metric.

Generic on purpose (pretraining and fine-tuning both use it): a run is either a record with a
`series(metric) -> (steps, values)` method (e.g. `bortkit.pretrain.records.LearningCurve`) or a
plain mapping ``metric -> (steps, values)``. `curves_info` shapes the data (tests assert on it);
`training_figure` only draws. `teacher_series` turns a teacher build's `TeacherResult` into such
a mapping (notebook 03's teacher curve), and `pretrain_table_info` / `pretrain_table_figure`
tabulate several pretraining runs against the teacher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bortkit.pretrain.records import PretrainResult
from bortkit.pretrain.teacher import TeacherResult
from bortkit.records import Record

LABELS = {
    "train_loss": "training loss",
    "train_mlm": "training MLM loss",
    "train_kd": "training KD term",
    "eval_error": "held-out masked-token error",
    "eval_accuracy": "held-out masked-token accuracy",
    "eval_loss": "held-out MLM loss",
    "eval_kl": "held-out KL to the teacher (0 teacher, 1 unigram)",
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


def teacher_series(result: TeacherResult) -> dict[str, tuple[tuple[int, ...], tuple[float, ...]]]:
    """A teacher build's held-out curve as a run for `training_figure`: "eval_accuracy",
    "eval_error" and "eval_loss" against the build's step (accuracy over the restricted Vocab)."""
    points = tuple(result.history) or (result.before, result.after)
    steps = tuple(int(p.step) for p in points)
    acc = tuple(float(p.accuracy) for p in points)
    return {"eval_accuracy": (steps, acc), "eval_error": (steps, tuple(1 - a for a in acc)),
            "eval_loss": (steps, tuple(float(p.loss) for p in points))}


PRETRAIN_COLUMNS = ("run", "objective", "init", "steps", "held-out acc", "held-out KL",
                    "held-out loss", "seconds")


@dataclass(frozen=True)
class PretrainTable(Record):
    """Rows of the pretraining comparison: one per run (input order), then the teacher's."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def pretrain_table_info(results: Mapping[str, PretrainResult], *,
                        teacher_accuracy: float | None = None) -> PretrainTable:
    """One row per pretraining run (final held-out accuracy, normalised KL to the teacher, loss,
    wall seconds) and, when given, the teacher's accuracy on the same held-out positions."""
    if not results:
        raise ValueError("pretrain_table_info: no results given")
    rows = []
    for name, r in results.items():
        kl = r.curve.eval_kl[-1] if r.curve.eval_kl else None
        rows.append((str(name), r.config.objective, r.config.init, str(r.steps),
                     _num(r.final.accuracy), _num(kl), _num(r.final.loss), f"{r.seconds:.0f}"))
    if teacher_accuracy is not None:
        rows.append(("teacher", "–", "–", "–", _num(teacher_accuracy), "0 (by definition)", "–",
                     "–"))
    return PretrainTable(PRETRAIN_COLUMNS, tuple(rows))


def pretrain_table_figure(results: Mapping[str, PretrainResult], *,
                          teacher_accuracy: float | None = None,
                          title: str = "Pretraining runs") -> Any:
    """A plotly table of `pretrain_table_info`."""
    import plotly.graph_objects as go

    info = pretrain_table_info(results, teacher_accuracy=teacher_accuracy)
    fig = go.Figure(go.Table(
        header={"values": list(info.columns), "fill_color": "#dde6f0", "align": "left"},
        cells={"values": [list(col) for col in zip(*info.rows)], "align": "left"}))
    fig.update_layout(title=title, height=min(140 + 28 * len(info.rows), 600),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


__all__ = [
    "LABELS",
    "PRETRAIN_COLUMNS",
    "CurveSeries",
    "CurvesInfo",
    "PretrainTable",
    "curves_info",
    "pretrain_table_figure",
    "pretrain_table_info",
    "teacher_series",
    "training_figure",
]
