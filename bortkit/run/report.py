"""The browsable record of a run: `index.html`, the page a researcher opens first.

`write_index(run_root)` scans the run folder that `bortkit.run.pipeline` fills (one sub-folder per
notebook with `run.json`, the executed notebook, HTML figures and `summary.json`), exports
each executed notebook to HTML with nbconvert, and writes a single page that tells the story
(`bortkit.run.story`): the headline in words and in the "Bort in miniature" table, the key
figures inline (the front with the chosen shape, the pretraining curves, Agora's rounds), then
each stage's details and links.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bortkit import records
from bortkit.run import artifacts
from bortkit.run.story import Story, build_story

logger = logging.getLogger(__name__)

INDEX_NAME = "index.html"
_MAX_ROWS = 40


@dataclass(frozen=True)
class StepReport:
    """What the index shows of one notebook's folder."""

    name: str
    ok: bool
    seconds: float
    error: str
    notebook_html: str | None
    figures: tuple[str, ...]
    headline: tuple[tuple[str, str], ...]


def flatten_summary(summary: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten a summary.json into (dotted key, short value) rows; long lists are summarised."""
    rows: list[tuple[str, str]] = []
    if isinstance(summary, dict):
        for key in sorted(summary):
            rows.extend(flatten_summary(summary[key], f"{prefix}{key}."))
    elif isinstance(summary, list) and summary and all(not isinstance(v, (dict, list))
                                                       for v in summary) and len(summary) <= 8:
        rows.append((prefix[:-1], ", ".join(_fmt(v) for v in summary)))
    elif isinstance(summary, list):
        rows.append((prefix[:-1], f"[{len(summary)} items]"))
    else:
        rows.append((prefix[:-1], _fmt(summary)))
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_PLOTLY_MIME = "application/vnd.plotly.v1+json"


def inline_plotly_outputs(nb: Any, *, plotlyjs: str = "plotly.min.js") -> int:
    """Give every plotly output of `nb` an HTML rendering, so nbconvert's HTML shows the figure.

    Papermill stores figures only as plotly JSON, which nbconvert cannot draw. The first figure
    loads plotly.js from `plotlyjs` (the copy `artifacts.save_figure` writes beside the
    notebook, so the page works offline); later figures reuse it. Returns how many were added.
    """
    import plotly.io as pio

    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _PLOTLY_MIME in data and "text/html" not in data:
                fig = pio.from_json(json.dumps(data[_PLOTLY_MIME]), skip_invalid=True)
                data["text/html"] = fig.to_html(full_html=False,
                                                include_plotlyjs=plotlyjs if n == 0 else False)
                del data[_PLOTLY_MIME]
                n += 1
    return n


def _export_notebook(executed: Path) -> Path | None:
    if not executed.is_file():
        return None
    try:
        import nbformat
        from nbconvert import HTMLExporter

        nb = nbformat.read(executed, as_version=4)
        inline_plotly_outputs(nb)
        body, _ = HTMLExporter().from_notebook_node(nb)
    except Exception as exc:  # a broken export must not lose the rest of the report
        logger.warning("could not export %s to HTML: %s", executed, exc)
        return None
    target = executed.with_name(executed.stem + ".notebook.html")
    records.atomic_write_text(target, body)
    return target


def collect(run_root: str | Path) -> list[StepReport]:
    """One `StepReport` per notebook folder of `run_root`, in folder order."""
    root = Path(run_root)
    steps = []
    for folder in sorted(p for p in root.iterdir() if (p / "run.json").is_file()):
        run = json.loads((folder / "run.json").read_text())
        executed = Path(run.get("executed", ""))
        if not executed.is_relative_to(folder.resolve()) and (folder / executed.name).is_file():
            executed = folder / executed.name  # the run folder was moved or copied
        exported = _export_notebook(executed)
        figures = tuple(
            str(p.relative_to(root))
            for p in sorted(folder.rglob("*.html"))
            if not p.name.endswith(".notebook.html")
        )
        summary_path = folder / artifacts.SUMMARY_NAME
        headline: tuple[tuple[str, str], ...] = ()
        if summary_path.is_file():
            headline = tuple(flatten_summary(json.loads(summary_path.read_text()))[:_MAX_ROWS])
        steps.append(
            StepReport(
                name=folder.name,
                ok=bool(run.get("ok")),
                seconds=float(run.get("seconds", 0.0)),
                error=str(run.get("error", "")),
                notebook_html=(str(exported.resolve().relative_to(root.resolve())) if exported
                               else None),
                figures=figures,
                headline=headline,
            )
        )
    return steps


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1080px;margin:2em auto;line-height:1.45;"
    "color:#222;padding:0 1em}h1{margin-bottom:.2em}.lead{font-size:1.08em}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;font-size:90%;vertical-align:top}th{background:#f4f4f4}"
    ".fail{color:#b00}.ok{color:#070}.yes{color:#070;font-weight:600}"
    ".no{color:#b00;font-weight:600}.source{color:#666;font-size:85%}"
    "figure{margin:1.2em 0}figure iframe{width:100%;height:560px;border:1px solid #ddd}"
    "figcaption{color:#444;font-size:92%}"
)


def _table(rows: tuple[tuple[str, ...], ...], cls: str = "") -> list[str]:
    e = html.escape
    out = [f"<table class='{cls}'><tr>" + "".join(f"<th>{e(c)}</th>" for c in rows[0])
           + "</tr>"]
    for row in rows[1:]:
        cells = []
        for c in row:
            mark = {"yes": " class='yes'", "no": " class='no'"}.get(c, "")
            cells.append(f"<td{mark}>{e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return out


def render_story(story: Story) -> list[str]:
    """The top of the page: headline sentences, the miniature and goals tables, key figures."""
    e = html.escape
    parts = ["<section id='story'>"]
    if story.sentences:
        parts.append(f"<p class='lead'>{e(story.sentences[0])}</p>")
        if len(story.sentences) > 1:
            parts.append("<ul>" + "".join(f"<li>{e(t)}</li>" for t in story.sentences[1:])
                         + "</ul>")
    if story.table:
        parts.append("<h2 id='miniature'>Bort in miniature</h2>")
        parts += _table(story.table, "miniature")
        if story.goals:
            parts += _table(story.goals, "goals")
        parts.append(f"<p class='source'>Source: {e(story.table_source)}.</p>")
    if story.figures:
        parts.append("<h2 id='figures'>Key figures</h2>")
        for fig in story.figures:
            parts.append(f"<figure><iframe src='{e(fig.path)}' "
                         f"title='{e(fig.caption)}'></iframe><figcaption>{e(fig.caption)} "
                         f"(<a href='{e(fig.path)}'>open</a>)</figcaption></figure>")
    parts.append("</section>")
    return parts


def render_index(steps: list[StepReport], *, title: str, story: Story | None = None) -> str:
    """The index page as an HTML string (plain HTML + a little CSS; no network): the story
    first (when given), then the stages' table, then each stage's details and links."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if story is not None:
        parts += render_story(story)
    parts += [
        "<h2 id='stages'>Stages</h2>",
        "<table><tr><th>notebook</th><th>status</th><th>seconds</th></tr>",
    ]
    for s in steps:
        status = "<span class='ok'>ok</span>" if s.ok else "<span class='fail'>failed</span>"
        parts.append(f"<tr><td><a href='#{e(s.name)}'>{e(s.name)}</a></td><td>{status}</td>"
                     f"<td>{s.seconds:.0f}</td></tr>")
    parts.append("</table>")
    for s in steps:
        parts.append(f"<h2 id='{e(s.name)}'>{e(s.name)}</h2>")
        if s.error:
            parts.append(f"<p class='fail'>{e(s.error)}</p>")
        if s.notebook_html:
            parts.append(f"<p>Executed notebook: <a href='{e(s.notebook_html)}'>"
                         f"{e(s.notebook_html)}</a></p>")
        if s.figures:
            parts.append("<p>Figures:</p><ul>")
            parts.extend(f"<li><a href='{e(f)}'>{e(f)}</a></li>" for f in s.figures)
            parts.append("</ul>")
        if s.headline:
            parts.append("<details><summary>summary.json</summary>"
                         "<table><tr><th>key</th><th>value</th></tr>")
            parts.extend(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in s.headline)
            parts.append("</table></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_index(run_root: str | Path, *, title: str | None = None) -> Path:
    """Write `<run_root>/index.html` for the notebooks found there; returns its path."""
    root = Path(run_root)
    if not root.is_dir():
        raise FileNotFoundError(f"run folder {str(root)!r} does not exist")
    steps = collect(root)
    page = render_index(steps, title=title or f"bortkit run {root.name}",
                        story=build_story(root))
    return records.atomic_write_text(root / INDEX_NAME, page)


__all__ = [
    "INDEX_NAME",
    "StepReport",
    "collect",
    "flatten_summary",
    "inline_plotly_outputs",
    "render_index",
    "render_story",
    "write_index",
]
