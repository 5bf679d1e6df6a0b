"""ipywidgets explorers built from `bortkit.plots` (one module per explorer).

Nothing downstream may depend on widget state: papermill never clicks.
"""
