"""Writing run artifacts: run folders, atomic file writes, JSON summaries, HTML figures."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

SUMMARY_NAME = "summary.json"
_UMASK = os.umask(0)
os.umask(_UMASK)


def run_dir(path: str | os.PathLike[str]) -> Path:
    """Create (if needed) and return the output folder of a run."""
    if not str(path).strip():
        raise ValueError("output_dir must be a non-empty path")
    out = Path(path).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    return out


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one, never half.

    The bytes go to a temporary file in the same folder, are fsynced, then renamed over `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return _jsonable(obj.item())
    return obj


def save_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` (records with `to_dict()`, numpy scalars, paths allowed) as JSON, atomically."""
    return atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")


def load_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


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
    "atomic_write_bytes",
    "atomic_write_text",
    "load_json",
    "run_dir",
    "save_figure",
    "save_json",
    "save_summary",
]
