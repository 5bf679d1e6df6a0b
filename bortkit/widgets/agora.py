"""Agora round viewer: the per-round projection scatter with an ipywidgets round slider.

    viewer = AgoraViewer(result, projection, control=control_result)  # control optional
    viewer            # displays the slider above the figure in Jupyter
    viewer.show_round(2)

Stable attributes (the browser test relies on them): `viewer.figure` (a plotly `FigureWidget`
whose traces are `bortkit.plots.agora.TRACE_NAMES`: dev points, Agora's new points by sampler,
the control's points), `viewer.slider` (an `IntSlider` over
round indices), `viewer.widget` (the `VBox` shown), `viewer.round_index`.
"""

from __future__ import annotations

from bortkit.agora.records import AgoraResult
from bortkit.embed import Projection
from bortkit.plots import agora as agora_plots


class AgoraViewer:
    """Round slider + scatter. Nothing downstream depends on its state (papermill never clicks)."""

    def __init__(self, result: AgoraResult, projection: Projection, *,
                 control: AgoraResult | None = None) -> None:
        try:
            import ipywidgets as W
            import plotly.graph_objects as go
        except ImportError as exc:  # pragma: no cover - both are pinned
            raise ImportError("AgoraViewer needs ipywidgets and plotly") from exc
        if not result.rounds:
            raise ValueError("result has no rounds")
        self.result = result
        self.projection = projection
        self._views = [agora_plots.round_view(result, projection, k, control=control)
                       for k in range(len(result.rounds))]
        base = agora_plots.rounds_figure(result, projection, control=control)
        base.frames = ()
        base.layout.sliders = ()
        self.figure = go.FigureWidget(base)
        self.slider = W.IntSlider(value=0, min=0, max=len(self._views) - 1, step=1,
                                  description="round", continuous_update=False)
        self.slider.observe(lambda change: self.show_round(change["new"]), names="value")
        self.widget = W.VBox([self.slider, self.figure])
        self.round_index = 0

    def show_round(self, k: int) -> None:
        """Redraw the figure for round `k` (and move the slider there)."""
        if not 0 <= k < len(self._views):
            raise ValueError(f"k must be in [0, {len(self._views)}), got {k!r}")
        traces = agora_plots._round_traces(self._views[k])
        with self.figure.batch_update():
            for target, src in zip(self.figure.data, traces):
                target.x, target.y = src.x, src.y
                target.text, target.customdata = src.text, src.customdata
                if src.marker is not None and src.marker.color is not None:
                    target.marker.color = src.marker.color
                if src.marker is not None and src.marker.symbol is not None:
                    target.marker.symbol = src.marker.symbol
            self.figure.layout.title.text = self._views[k].title
        self.round_index = k
        if self.slider.value != k:
            self.slider.value = k

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a frontend
        from IPython.display import display

        display(self.widget)


__all__ = ["AgoraViewer"]
