"""Drive a notebook in a real JupyterLab page (Playwright, Debian's Chromium), as a person would.

Helpers that open a notebook, run all cells through JupyterLab's own command, and read what the
browser actually rendered: ``gd.data`` and the ``.point`` SVG paths of a ``.js-plotly-plot``
exist only once plotly.js drew the FigureWidget in the page (the kernel-side object never
reaches the DOM). The server side lives in :mod:`labserver`; its names are re-exported here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from labserver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    Lab,
    free_port,
    prepare_notebook,
    start_lab,
)

# A plot drawn by a widget view (plotly FigureWidget) in a notebook output area. A static
# figure drawn by JupyterLab's plotly mime renderer carries the class jp-RenderedPlotly on its
# graph div and does not match, so only the interactive widget satisfies the checks below.
PLOT_SELECTOR = ".jp-OutputArea .js-plotly-plot:not(.jp-RenderedPlotly)"



def open_notebook(page, lab: Lab, relpath: str, *, timeout: float = 60.0) -> None:
    """Open ``relpath`` in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.page_url(relpath), wait_until="domcontentloaded")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell"
        " && document.querySelector('.jp-NotebookPanel .jp-Notebook .jp-Cell')",
        timeout=timeout * 1000,
    )
    wait_kernel_idle(page, timeout=timeout)


_KERNEL_STATE_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.sessionContext || !w.sessionContext.session) return 'none';
  const k = w.sessionContext.session.kernel;
  return k ? k.status : 'none';
}"""


def open_and_start(browser, lab: Lab, relpath: str):
    """New browser context → open ``relpath`` → 'Run All Cells', without waiting for the run.

    Several notebooks started this way run their kernels in parallel; finish each with
    :func:`wait_run_all`. Close the page with :func:`close_notebook_page`.
    """
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    try:
        open_notebook(page, lab, relpath)
        start_run_all(page)
    except BaseException:
        close_notebook_page(page, lab)
        raise
    return page


def close_notebook_page(page, lab: Lab) -> None:
    """Close ``page``'s browser context and shut its notebook's kernel down."""
    try:
        kid = page.evaluate(
            "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            " const k = w && w.sessionContext && w.sessionContext.session"
            " && w.sessionContext.session.kernel; return k ? k.id : null; }"
        )
    except Exception:  # noqa: BLE001 - the page may already be broken; still close it
        kid = None
    page.context.close()
    if kid:
        lab.shutdown_kernel(kid)


def kernel_status(page) -> str:
    """Status of the current notebook's kernel ('idle', 'busy', 'starting', ... or 'none')."""
    return str(page.evaluate(_KERNEL_STATE_JS))


def wait_kernel_idle(page, *, timeout: float = 60.0) -> None:
    """Wait until the current notebook's kernel reports 'idle'."""
    page.wait_for_function(f"() => ({_KERNEL_STATE_JS})() === 'idle'", timeout=timeout * 1000)


def kernel_eval(page, code: str) -> str:
    """Run ``code`` in the notebook's kernel (as JupyterLab's front end does); return stdout.

    Used to read the kernel-side truth (e.g. the explorer's trace lengths) to compare with what
    the browser rendered. Raises ``AssertionError`` if the code raised.
    """
    out = page.evaluate(
        """async (code) => {
          const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const fut = k.requestExecute({code, silent: false, store_history: false});
          let out = '', err = null;
          fut.onIOPub = (msg) => {
            const t = msg.header.msg_type;
            if (t === 'stream') out += msg.content.text;
            if (t === 'error') err = msg.content.ename + ': ' + msg.content.evalue;
          };
          await fut.done;
          return {out, err};
        }""",
        code,
    )
    if out["err"]:
        raise AssertionError(f"kernel code failed: {out['err']}\n{code}")
    return str(out["out"])


_PROBE = """
import json as _bk_json
# Globals, and the Out history for a widget displayed without a name (`Viewer(...)` last).
_bk_pool = list(globals().values()) + list(globals().get("Out", {{}}).values())
_bk_objs = list({{id(_v): _v for _v in _bk_pool if type(_v).__module__ == {module!r}}}.values())
_bk_w = _bk_objs[0] if len(_bk_objs) == 1 else None
def _bk_list(v):
    if v is None:
        return None
    v = [v] if isinstance(v, str) else list(v)
    return [x if x is None or isinstance(x, (str, int, float, bool)) else float(x) for x in v]
print(_bk_json.dumps(None if _bk_w is None else {{
    "found": len(_bk_objs),
    "traces": [dict(name=t.name, x=_bk_list(t.x), y=_bk_list(t.y),
                    color=_bk_list(getattr(getattr(t, "marker", None), "color", None)))
               for t in _bk_w.figure.data],
    "title": _bk_w.figure.layout.title.text,
    "state": {{k: getattr(_bk_w, k) for k in {state!r} if hasattr(_bk_w, k)}},
}}, default=str))
del _bk_pool, _bk_objs, _bk_w, _bk_list
"""


def kernel_widget(page, module: str, state: tuple[str, ...] = ()) -> dict:
    """The kernel-side truth about the one widget object defined by ``module`` in the notebook.

    Finds the single global whose class lives in ``module`` (e.g. ``bortkit.widgets.agora``) and
    returns its ``figure``'s traces (name, x, y, marker colour), title, and the attributes named
    in ``state``. Raises ``AssertionError`` if there is not exactly one such object.
    """
    out = kernel_eval(page, _PROBE.format(module=module, state=tuple(state)))
    data = json.loads(out.strip().splitlines()[-1])
    if data is None:
        raise AssertionError(f"the notebook does not hold exactly one {module} object")
    return data


_CELLS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cells = nb.widgets.filter(c => c.model.type === 'code');
  const out = cells.map((c, i) => {
    const outs = c.model.outputs.toJSON();
    const err = outs.find(o => o.output_type === 'error');
    return {index: i, count: c.model.executionCount,
            error: err ? (err.ename + ': ' + err.evalue) : null};
  });
  return out;
}"""


def cell_states(page) -> list[dict]:
    """Each code cell's execution count and error (``ename: evalue``) from the notebook model."""
    return page.evaluate(_CELLS_JS)


def start_run_all(page) -> None:
    """Click JupyterLab's 'Run All Cells' (the command behind Run ▸ Run All Cells); no wait."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_run_all(page, *, timeout: float = 150.0) -> None:
    """Wait until every code cell ran (or one raised) and the kernel is idle.

    Reads execution counts and errors from JupyterLab's notebook model; raises
    ``AssertionError`` naming the first failing cell.
    """
    page.wait_for_function(
        f"""() => {{
          const cells = ({_CELLS_JS})();
          return cells.every(c => c.count !== null) || cells.some(c => c.error !== null);
        }}""",
        timeout=timeout * 1000,
        polling=250,
    )
    wait_kernel_idle(page, timeout=timeout)
    failed = [c for c in cell_states(page) if c["error"]]
    if failed:
        raise AssertionError(f"code cell {failed[0]['index']} raised in JupyterLab: "
                             f"{failed[0]['error']}")


def run_all_cells(page, *, timeout: float = 150.0) -> None:
    """'Run All Cells' and wait for it (:func:`start_run_all` + :func:`wait_run_all`)."""
    start_run_all(page)
    wait_run_all(page, timeout=timeout)


def wait_for_rendered_plot(
    page, *, min_points: int = 1, timeout: float = 30.0, selector: str = PLOT_SELECTOR
):
    """Wait until plotly.js has drawn a figure with ≥ ``min_points`` points in an output area.

    This is the check that only a rendered widget passes: ``gd.data`` and the SVG point paths
    exist only after the FigureWidget's front-end view ran plotly.js in the page.

    Returns:
        The Playwright locator of the plot's graph div.

    Raises:
        playwright.sync_api.TimeoutError: no such plot appeared within ``timeout`` seconds.
    """
    page.wait_for_function(
        """([sel, n]) => {
          const gd = document.querySelector(sel);
          if (!gd || !gd.data || !gd._fullLayout) return false;
          const pts = gd.querySelectorAll('.scatterlayer .point').length;
          return pts >= n;
        }""",
        arg=[selector, min_points],
        timeout=timeout * 1000,
        polling=200,
    )
    return page.locator(selector).first


def rendered_traces(page, selector: str = PLOT_SELECTOR) -> list[dict]:
    """The traces plotly.js rendered in the page, reduced to JSON (x, y, marker, selection)."""
    return page.evaluate(
        """(sel) => {
          const gd = document.querySelector(sel);
          const arr = v => (v === undefined || v === null) ? null
                : (ArrayBuffer.isView(v) || Array.isArray(v)) ? Array.from(v) : v;
          const drawn = {};
          for (const g of gd.querySelectorAll('.scatterlayer .trace')) {
            const cd = g.__data__;
            const tr = cd && cd[0] && cd[0].trace;
            if (tr) drawn[tr.index] = g.querySelectorAll('.point').length;
          }
          return gd.data.map((t, i) => ({
            index: i,
            name: t.name === undefined ? null : t.name,
            type: t.type || 'scatter',
            mode: t.mode || null,
            visible: t.visible === undefined ? true : t.visible,
            x: arr(t.x), y: arr(t.y),
            n: t.x ? t.x.length : 0,
            customdata: arr(t.customdata),
            text: arr(t.text),
            marker_color: t.marker ? arr(t.marker.color) : null,
            marker_size: t.marker ? arr(t.marker.size) : null,
            marker_symbol: t.marker ? arr(t.marker.symbol) : null,
            marker_opacity: t.marker ? arr(t.marker.opacity) : null,
            line_color: (t.marker && t.marker.line) ? arr(t.marker.line.color) : null,
            opacity: t.opacity === undefined ? null : t.opacity,
            selectedpoints: arr(t.selectedpoints),
            drawn_points: drawn[i] || 0,
            title: (gd.layout.title && gd.layout.title.text) || null,
          }));
        }""",
        selector,
    )


_SIGNATURE_JS = """(sel) => {
  const gd = document.querySelector(sel);
  if (!gd || !gd.data) return null;
  const arr = v => (v === undefined || v === null) ? null
        : (ArrayBuffer.isView(v) || Array.isArray(v)) ? Array.from(v) : v;
  return JSON.stringify([gd.layout.title, gd.data.map(t => [
    arr(t.x), arr(t.y), t.marker ? [arr(t.marker.color), arr(t.marker.size), arr(t.marker.symbol),
    arr(t.marker.opacity), t.marker.line ? arr(t.marker.line.color) : null] : null,
    arr(t.selectedpoints), t.visible, t.opacity])]);
}"""


def plot_signature(page, selector: str = PLOT_SELECTOR) -> str | None:
    """A string that changes whenever the rendered traces' data, markers or title change."""
    return page.evaluate(_SIGNATURE_JS, selector)


def wait_for_plot_change(
    page, before: str | None, *, timeout: float = 20.0, selector: str = PLOT_SELECTOR
) -> str:
    """Wait until :func:`plot_signature` differs from ``before``; return the new signature."""
    page.wait_for_function(
        f"([sel, before]) => {{ const s = ({_SIGNATURE_JS})(sel);"
        " return s !== null && s !== before; }",
        arg=[selector, before],
        timeout=timeout * 1000,
        polling=200,
    )
    return str(plot_signature(page, selector))


def point_position(
    page, trace: int, index: int, selector: str = PLOT_SELECTOR
) -> tuple[float, float]:
    """Page coordinates (CSS pixels) of point ``index`` of trace ``trace`` as drawn."""
    xy = page.evaluate(
        """([sel, t, i]) => {
          const gd = document.querySelector(sel);
          const tr = gd._fullData[t];
          const fl = gd._fullLayout;
          const xa = fl[(tr.xaxis || 'x').replace('x', 'xaxis')];
          const ya = fl[(tr.yaxis || 'y').replace('y', 'yaxis')];
          const box = gd.getBoundingClientRect();
          const x = box.left + xa._offset + xa.d2p(tr.x[i]);
          const y = box.top + ya._offset + ya.d2p(tr.y[i]);
          return [x, y];
        }""",
        [selector, trace, index],
    )
    return float(xy[0]), float(xy[1])


def point_positions(page, selector: str = PLOT_SELECTOR) -> list[dict]:
    """Every drawn point: ``{trace, pos, id (customdata or None), x, y}`` in page pixels."""
    return page.evaluate(
        """(sel) => {
          const gd = document.querySelector(sel);
          const fl = gd._fullLayout, box = gd.getBoundingClientRect(), out = [];
          gd._fullData.forEach((tr, t) => {
            if (tr.visible !== true || !tr.x) return;
            const xa = fl[(tr.xaxis || 'x').replace('x', 'xaxis')];
            const ya = fl[(tr.yaxis || 'y').replace('y', 'yaxis')];
            for (let i = 0; i < tr.x.length; i++) {
              out.push({trace: t, pos: i, id: tr.customdata ? tr.customdata[i] : null,
                        x: box.left + xa._offset + xa.d2p(tr.x[i]),
                        y: box.top + ya._offset + ya.d2p(tr.y[i])});
            }
          });
          return out;
        }""",
        selector,
    )


def isolated_point(points: list[dict], traces: tuple[int, ...], exclude=()) -> dict:
    """The point of ``traces`` farthest (in pixels) from any point with another id.

    A real click hits whatever is drawn there; on a crowded plot, clicking the most isolated
    point makes "which point did the person click" unambiguous.
    """
    def clearance(p: dict) -> float:
        others = [(q["x"] - p["x"]) ** 2 + (q["y"] - p["y"]) ** 2
                  for q in points if q["id"] != p["id"]]
        return min(others, default=float("inf"))

    cands = [p for p in points if p["trace"] in traces and p["id"] not in exclude]
    if not cands:
        raise AssertionError(f"no point to click in traces {traces}")
    return max(cands, key=clearance)


def click_point(page, trace: int, index: int, selector: str = PLOT_SELECTOR) -> None:
    """Hover then click, with the real mouse, on point ``index`` of trace ``trace``."""
    page.locator(selector).first.scroll_into_view_if_needed()
    x, y = point_position(page, trace, index, selector)
    page.mouse.move(x - 8, y - 8)
    page.mouse.move(x, y, steps=4)
    page.wait_for_timeout(150)
    page.mouse.click(x, y)


def press_slider(page, slider, key: str = "ArrowRight", times: int = 1) -> None:
    """Move an ipywidgets slider with the keyboard: focus its handle, press ``key``."""
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(times):
        handle.press(key)
        page.wait_for_timeout(60)


def update_docs_image(path: Path, name: str) -> Path | None:
    """Copy a screenshot to docs/img/<name> only when BORTKIT_UPDATE_DOCS=1.

    `make test` must leave the tree clean, so the documentation's pictures are refreshed on
    purpose (`BORTKIT_UPDATE_DOCS=1 make test`), never as a side effect of a test run.
    """
    if os.environ.get("BORTKIT_UPDATE_DOCS", "0") in ("", "0"):
        return None
    docs = Path(__file__).resolve().parents[2] / "docs" / "img"
    docs.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(path, docs / name))


def screenshot(page, path: Path, *, locator=None) -> Path:
    """Save a PNG of the page (or of ``locator``) to ``path``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (locator if locator is not None else page).screenshot(path=str(path))
    return path


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PLOT_SELECTOR",
    "kernel_eval",
    "kernel_widget",
    "VIEWPORT",
    "Lab",
    "cell_states",
    "click_point",
    "close_notebook_page",
    "free_port",
    "kernel_status",
    "open_and_start",
    "start_run_all",
    "wait_run_all",
    "open_notebook",
    "plot_signature",
    "point_position",
    "point_positions",
    "isolated_point",
    "prepare_notebook",
    "press_slider",
    "rendered_traces",
    "run_all_cells",
    "screenshot",
    "update_docs_image",
    "start_lab",
    "wait_for_plot_change",
    "wait_for_rendered_plot",
    "wait_kernel_idle",
]
