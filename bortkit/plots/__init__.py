"""Plotly figure builders, one module per area: record in, `go.Figure` out, no computation.

Import the area you need, e.g. ``from bortkit.plots import pareto as pareto_plots``.
plotly is imported lazily inside each module's functions' callers; nothing in the library
proper imports this package.
"""
