"""Run artifacts: run folders, the `summary.json` of headline numbers, self-contained HTML figures.

Atomic JSON and file writes live in `bortkit.records` (every layer uses them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bortkit.records import atomic_write_text, save_json

SUMMARY_NAME = "summary.json"


def run_dir(path: str | os.PathLike[str]) -> Path:
    """Create (if needed) and return the output folder of a run."""
    if not str(path).strip():
        raise ValueError("output_dir must be a non-empty path")
    out = Path(path).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_summary(out: str | os.PathLike[str], **numbers: Any) -> Path:
    """Write the run's headline numbers to `<out>/summary.json` (what notebook tests read)."""
    return save_json(Path(out) / SUMMARY_NAME, numbers)


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Save a plotly figure as HTML that works offline.

    plotly.js is written once per folder (`plotly.min.js` beside the figures) instead of being
    inlined into every file, so a run folder stays small and still opens with no network.
    """
    path = Path(path)
    if path.suffix != ".html":
        raise ValueError(f"save_figure writes HTML; path must end in .html, got {str(path)!r}")
    html = fig.to_html(include_plotlyjs="directory", full_html=True)
    atomic_write_text(path, html)
    js = path.parent / "plotly.min.js"
    if not js.exists():
        from plotly.offline import get_plotlyjs

        atomic_write_text(js, get_plotlyjs())
    return path


__all__ = [
    "SUMMARY_NAME",
    "run_dir",
    "save_figure",
    "save_summary",
]
