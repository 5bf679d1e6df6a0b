"""Pareto explorer for an FPTAS run: filter, preview ε-trimming, inspect and export candidates.

`ParetoExplorer(result)` builds, from `bortkit.plots.pareto`'s record, a plotly `FigureWidget`
of all of Ξ in the (p, i) plane, the trained candidates coloured by surrogate error and the
others hollow (their hover gives the e they inherit from their representative), plus
ipywidgets controls. Stable
attributes (a browser test drives them):

* `figure`: the `FigureWidget`; traces in `TRACES` order, each point's `customdata` is its
  candidate index. Clicking a point calls `select(index)`.
* `card`: an `ipywidgets.HTML` whose text reads ``D=… A=… H=… I=… p=… i=… e=… W=… θ=…``, the
  group, trained / inherited / audited and whether weights were kept (`card_text`; a point's
  hover shows the same lines).
* `epsilon_slider`: ε for the trimming preview; `kept_label` says how many would be trained;
  the "kept at ε" trace rings the representatives.
* `params_range`, `ops_range`, `error_range`: `FloatRangeSlider` filters.
* `figure.layout.annotations`: the Bort-like and BERT-like shapes of Ξ.
* `export_button` / `export(index, folder)`: write the selected candidate as an HF
  ``config.json`` (`transformers.BertConfig`); `export_status` shows the path.
* `checkpoint_button` / `export_checkpoint(index, folder)`: copy the selected candidate's kept
  weights (a run with ``keep_weights``, `bortkit fptas --keep-weights DIR`) to
  ``<folder>/<label>/``, a folder `transformers.AutoModel` loads (config.json + weights +
  tokenizer); without kept weights the button is disabled and says why.
* `widget`: the whole `VBox` to display.

The data-shaping helpers (`filter_indices`, `trim_preview`, `card_text`) are plain functions
so tests check them without a browser. Nothing downstream depends on widget state.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from bortkit.plots.pareto import card_lines, pareto_data
from bortkit.search.result import Candidate, FptasResult
from bortkit.search.trim import group_key, trim

TRACES = ("trained", "not trained", "kept at ε", "Pareto front", "selected")
NO_WEIGHTS = "no weights kept: run with keep_weights (bortkit fptas --keep-weights DIR)"


def filter_indices(
    result: FptasResult,
    *,
    params: tuple[float, float] | None = None,
    ops: tuple[float, float] | None = None,
    error: tuple[float, float] | None = None,
) -> list[int]:
    """Candidate indices within the ranges (params in M, ops in GFLOP, error as a fraction).

    An error range keeps only trained candidates (an inherited e is not a measurement).
    """
    out = []
    for c in result.candidates:
        p, i = c.params / 1e6, c.ops / 1e9
        if params and not params[0] <= p <= params[1]:
            continue
        if ops and not ops[0] <= i <= ops[1]:
            continue
        if error and (not c.trained or not error[0] <= c.error <= error[1]):
            continue
        out.append(c.index)
    return out


def trim_preview(result: FptasResult, epsilon: float) -> tuple[int, ...]:
    """The representatives the run's trimming rule would train at `epsilon` (all of Ξ)."""
    cfg = result.config
    _, reps = trim([c.params for c in result.candidates], [c.ops for c in result.candidates],
                   epsilon=epsilon, order=cfg.order, representative=cfg.representative,
                   keys=[group_key(c.spec) for c in result.candidates])
    return tuple(sorted(reps))


def card_text(c: Candidate, *, representative: str = "") -> str:
    """One line per field (`bortkit.plots.pareto.card_lines`, the hover's lines too): shape,
    D, A, H, I, p, i, e, W, θ, group, trained / inherited / audited, checkpoint yes/no.

    e, W, θ are "—" when the candidate has no e; an inherited e says so and whose it is.
    """
    return "\n".join(card_lines(c, representative=representative))


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def export_config(c: Candidate, folder: str | os.PathLike[str]) -> Path:
    """Write `c`'s `transformers.BertConfig` to ``<folder>/<label>/config.json``.

    A folder that already holds `c`'s exported checkpoint keeps the checkpoint's own
    config.json (the same shape, plus what its weights need to load).
    """
    target = Path(folder) / c.spec.label
    target.mkdir(parents=True, exist_ok=True)
    path = target / "config.json"
    if not (path.is_file() and _has_weights(target)):
        c.spec.to_bert_config().to_json_file(str(path))
    return path


def export_checkpoint(c: Candidate, folder: str | os.PathLike[str]) -> Path:
    """Copy `c`'s kept weights (`Candidate.checkpoint`) to ``<folder>/<label>/``.

    The copy is what the run kept: config.json, the weights, the tokenizer, and for the
    surrogate's restricted-head student ``vocab.json`` (`transformers.AutoModel` loads the
    encoder; `bortkit.pretrain.teacher_head.model_class()` the whole student).

    Raises:
        ValueError: `c` has no kept weights (the run did not keep any, or ran out of disk).
        FileNotFoundError: the kept folder is gone.
    """
    if not c.checkpoint:
        raise ValueError(f"{c.spec.label}: {NO_WEIGHTS}")
    source = Path(c.checkpoint)
    if not source.is_dir():
        raise FileNotFoundError(f"{c.spec.label}: its kept weights {source} are gone")
    target = Path(folder) / c.spec.label
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def _range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    return (lo, hi) if hi > lo else (lo, lo + 1e-9)


class ParetoExplorer:
    """Interactive explorer of an `FptasResult` (see the module docstring for attributes).

    Args:
        result: the run to explore.
        export_dir: where `export` writes ``config.json`` folders by default.
    """

    def __init__(self, result: FptasResult, *, export_dir: str | os.PathLike[str] = "."):
        import ipywidgets as w
        import plotly.graph_objects as go

        self.result = result
        self.export_dir = Path(export_dir)
        self.data = pareto_data(result)
        self.selected: int | None = None
        d = self.data
        self.figure = go.FigureWidget(
            data=[go.Scatter(x=[], y=[], mode="markers", name=n) for n in TRACES],
            layout=dict(title=d.title, height=500, xaxis_title="parameters p (M)",
                        yaxis_title="operations i (GFLOP/seq)",
                        # legend above the plot, clear of the error colour bar
                        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0)))
        f = self.figure.data
        f[0].marker = dict(size=9, color=[], colorscale="Viridis", colorbar=dict(title="e"))
        f[1].marker = dict(size=7, color="gray", symbol="circle-open")  # not measured
        f[2].marker = dict(size=15, color="rgba(0,0,0,0)", line=dict(width=2, color="orange"))
        f[3].marker = dict(size=5, color="black", symbol="cross")
        f[4].marker = dict(size=16, color="red", symbol="star")
        self.figure.layout.annotations = [  # where the Bort-like and BERT-like shapes sit
            dict(x=d.params_m[k], y=d.ops_g[k], text=f"{name} {d.labels[k]}", showarrow=True,
                 arrowhead=2, ax=30, ay=-30)
            for name, k in d.landmarks.items()
        ]
        errors = [d.error[k] for k in d.trained]
        slider = dict(continuous_update=False, readout_format=".3g",
                      layout=w.Layout(width="420px"))
        self.params_range = w.FloatRangeSlider(description="p (M)", value=_range(d.params_m),
                                               min=_range(d.params_m)[0],
                                               max=_range(d.params_m)[1], step=1e-3, **slider)
        self.ops_range = w.FloatRangeSlider(description="i (GFLOP)", value=_range(d.ops_g),
                                            min=_range(d.ops_g)[0], max=_range(d.ops_g)[1],
                                            step=1e-4, **slider)
        self.error_range = w.FloatRangeSlider(description="e", value=_range(errors),
                                              min=_range(errors)[0], max=_range(errors)[1],
                                              step=1e-4, **slider)
        self.epsilon_slider = w.FloatSlider(description="ε", value=result.config.epsilon,
                                            min=0.01, max=0.95, step=0.01, **slider)
        self.kept_label = w.HTML()
        self.card = w.HTML(value="<pre>click a point</pre>")
        self.export_button = w.Button(description="export config.json", icon="download")
        self.checkpoint_button = w.Button(description="export checkpoint", icon="download")
        self.export_status = w.HTML()
        for ctl in (self.params_range, self.ops_range, self.error_range):
            ctl.observe(lambda _change: self.refresh(), names="value")
        self.epsilon_slider.observe(lambda _change: self._update_trim(), names="value")
        self.export_button.on_click(lambda _b: self.export())
        self.checkpoint_button.on_click(lambda _b: self._export_checkpoint_clicked())
        for trace in f[:4]:
            trace.on_click(self._on_click)
        self.widget = w.VBox([
            w.HBox([w.VBox([self.params_range, self.ops_range, self.error_range]),
                    w.VBox([self.epsilon_slider, self.kept_label])]),
            self.figure,
            w.HBox([self.card, w.VBox([self.export_button, self.checkpoint_button,
                                       self.export_status])]),
        ])
        self.refresh()
        self.select(result.chosen.index)

    # -- updates ---------------------------------------------------------------------------
    def visible(self) -> list[int]:
        """Indices passing the current filters (untrained ones ignore the error filter)."""
        kw = dict(params=self.params_range.value, ops=self.ops_range.value)
        trained = filter_indices(self.result, error=self.error_range.value, **kw)
        measured = set(self.data.trained)
        untrained = [k for k in filter_indices(self.result, **kw) if k not in measured]
        return sorted(trained + untrained)

    def _set(self, trace: int, idx: Sequence[int], color: bool = False) -> None:
        d, t = self.data, self.figure.data[trace]
        with self.figure.batch_update():
            t.x = [d.params_m[k] for k in idx]
            t.y = [d.ops_g[k] for k in idx]
            t.customdata = list(idx)
            t.hovertext = [d.hover(k) for k in idx]
            t.hoverinfo = "text"
            if color:
                t.marker.color = [d.error[k] for k in idx]

    def refresh(self) -> None:
        """Redraw every trace from the filters, the ε preview and the selection."""
        vis, measured = self.visible(), set(self.data.trained)
        self._set(0, [k for k in vis if k in measured], color=True)
        self._set(1, [k for k in vis if k not in measured])
        self._set(3, [k for k in self.data.front if k in set(vis)])
        self._update_trim()
        self._set(4, [] if self.selected is None else [self.selected])

    def _update_trim(self) -> None:
        eps = float(self.epsilon_slider.value)
        kept = trim_preview(self.result, eps)
        vis = set(self.visible())
        self._set(2, [k for k in kept if k in vis])
        self.kept_label.value = (f"ε={eps:.2f} keeps <b>{len(kept)}</b> of "
                                 f"{self.result.n_space} candidates (run: ε="
                                 f"{self.result.config.epsilon:g}, {self.result.n_trained})")

    def _on_click(self, trace: Any, points: Any, _state: Any) -> None:
        if points.point_inds:
            self.select(int(trace.customdata[points.point_inds[0]]))

    def select(self, index: int) -> Candidate:
        """Show candidate `index`'s card and star it (what a click does)."""
        if not 0 <= index < self.result.n_space:
            raise ValueError(f"index must be in [0, {self.result.n_space}), got {index}")
        self.selected = index
        c = self.result.candidates[index]
        text = "\n".join(self.data.cards[index])  # the hover's lines
        self.card.value = f"<pre class='bortkit-card'>{text}</pre>"
        kept = bool(c.checkpoint)
        self.checkpoint_button.disabled = not kept
        self.checkpoint_button.description = "export checkpoint" if kept else "no weights kept"
        self.checkpoint_button.tooltip = (f"copy {c.checkpoint} to the export folder" if kept
                                          else NO_WEIGHTS)
        self._set(4, [index])
        return c

    def export(self, index: int | None = None, folder: str | os.PathLike[str] | None = None
               ) -> Path:
        """Write the selected (or `index`) candidate's HF config.json; returns its path."""
        k = self.selected if index is None else index
        if k is None:
            raise ValueError("no candidate selected; click a point or pass index")
        path = export_config(self.result.candidates[k], folder or self.export_dir)
        self.export_status.value = f"wrote <code>{path}</code>"
        return path

    def export_checkpoint(self, index: int | None = None,
                          folder: str | os.PathLike[str] | None = None) -> Path:
        """Copy the selected (or `index`) candidate's kept weights to ``<folder>/<label>/``
        (`export_checkpoint`); without kept weights, `export_status` says why and this raises
        `ValueError`."""
        k = self.selected if index is None else index
        if k is None:
            raise ValueError("no candidate selected; click a point or pass index")
        try:
            path = export_checkpoint(self.result.candidates[k], folder or self.export_dir)
        except (ValueError, FileNotFoundError) as exc:
            self.export_status.value = f"not exported: {exc}"
            raise
        self.export_status.value = f"wrote checkpoint <code>{path}</code>"
        return path

    def _export_checkpoint_clicked(self) -> None:
        try:
            self.export_checkpoint()
        except (ValueError, FileNotFoundError):
            pass  # export_status already says why

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


__all__ = ["NO_WEIGHTS", "TRACES", "ParetoExplorer", "card_text", "export_checkpoint",
           "export_config", "filter_indices", "trim_preview"]
