"""Runs: run folders and artifacts, the papermill pipeline over the notebooks, and the run report.
Sits on top of every stage.
"""

from __future__ import annotations

__all__: list[str] = []
