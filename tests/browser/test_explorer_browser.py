"""02_fptas.ipynb in a real JupyterLab: the Pareto explorer renders, clicks and reacts to ε.

Runs all cells of the smoke-parameterised notebook through JupyterLab's 'Run All Cells', then
checks in the page — what a person sees — that plotly.js drew the explorer's FigureWidget with
every candidate of Ξ, that a real mouse click on a point shows that point's architecture card,
and that moving the ε slider with the keyboard changes the highlighted ("kept at ε") set. The
last test proves the render check can fail: the same notebook with the explorer printed instead
of displayed still draws its static figures, yet the widget check raises.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from labdriver import (
    PLOT_SELECTOR,
    click_point,
    isolated_point,
    kernel_eval,
    kernel_widget,
    plot_signature,
    point_positions,
    prepare_notebook,
    press_slider,
    rendered_traces,
    screenshot,
    update_docs_image,
    wait_for_plot_change,
    wait_for_rendered_plot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NAME = "02_fptas"
MODULE = "bortkit.widgets.pareto"  # the explorer is the notebook's one object of this module
CARD = ".jp-OutputArea .widget-html-content"
ARCH = re.compile(r"D=\d+ A=\d+ H=\d+ I=\d+")
# Kernel-side prelude: the notebook's one explorer as `_x`, whatever its variable is called.
EXPLORER = ("import bortkit.widgets.pareto as _pw\n"
            "_x = [v for v in list(globals().values()) if isinstance(v, _pw.ParetoExplorer)][0]\n")
# bortkit.widgets.pareto.TRACES
TRAINED, UNTRAINED, KEPT, FRONT, SELECTED = range(5)


def _prepare(lab_root: Path, out: Path) -> str:
    src = ROOT / "notebooks" / f"{NAME}.ipynb"
    prepare_notebook(src, lab_root / "notebooks", dict(smoke=True, seed=0, output_dir=str(out)))
    return f"notebooks/{NAME}.ipynb"


def _prepare_negative(lab_root: Path, out: Path) -> str:
    """The same notebook with the explorer printed instead of displayed."""
    nb = nbformat.read(ROOT / "notebooks" / f"{NAME}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "ParetoExplorer(" in c.source)
    lines = cell.source.rstrip().splitlines()
    assert "=" not in lines[-1], f"expected the explorer displayed last, got {lines[-1]!r}"
    cell.source = "\n".join(lines[:-1] + [f"print(type({lines[-1].strip()}).__name__)"])
    folder = lab_root / "negative"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")
    prepare_notebook(folder / f"{NAME}.ipynb", folder,
                     dict(smoke=True, seed=0, output_dir=str(out)))
    return f"negative/{NAME}.ipynb"


# Notebook runs this module needs; conftest starts all modules' runs at once.
RUNS = {NAME: _prepare, f"{NAME}-negative": _prepare_negative}


@pytest.fixture(scope="module")
def run(runs):
    """The notebook, run in JupyterLab: (page, summary.json of that run)."""
    page, out = runs.get(NAME)
    return page, json.loads((out / "summary.json").read_text())


def _cards(page) -> list[str]:
    return [c for c in page.locator(CARD).all_inner_texts() if ARCH.search(c)]


def _ids(trace: dict) -> list[int]:
    return [int(k) for k in trace["customdata"] or ()]


def test_explorer_renders_every_candidate(run, artifacts_dir):
    page, summary = run
    wait_for_rendered_plot(page, min_points=summary["n_space"]).scroll_into_view_if_needed()
    drawn = rendered_traces(page)
    truth = kernel_widget(page, MODULE)
    assert [t["name"] for t in drawn] == [t["name"] for t in truth["traces"]]
    # All of Ξ is drawn (trained + not trained), and the front, as the run's summary says.
    assert drawn[TRAINED]["n"] + drawn[UNTRAINED]["n"] == summary["n_space"]
    assert drawn[TRAINED]["n"] == summary["n_trained"]
    assert drawn[FRONT]["n"] == summary["front_size"]
    for r, k in zip(drawn, truth["traces"]):
        assert r["n"] == len(k["x"] or ()), f"trace {r['name']!r} differs from the kernel's"
        # plotly.js drew one SVG marker per point: only a rendered widget has these.
        assert r["drawn_points"] == r["n"], f"trace {r['name']!r}: {r['drawn_points']} drawn"
    screenshot(page, artifacts_dir / "explorer-rendered.png")


def test_click_shows_architecture_card(run, artifacts_dir):
    page, _ = run
    wait_for_rendered_plot(page)
    before = _cards(page)
    assert len(before) == 1, f"expected one card with the chosen candidate, got {before}"
    drawn = rendered_traces(page)
    chosen = _ids(drawn[SELECTED])
    # A person clicks a point of Ξ other than the chosen one (the clearest one to hit).
    target = isolated_point(point_positions(page), (TRAINED, UNTRAINED), exclude=chosen)
    index = int(target["id"])
    click_point(page, target["trace"], target["pos"])
    page.wait_for_function(
        """([sel, before]) => [...document.querySelectorAll(sel)].some(
             e => /D=\\d+ A=\\d+ H=\\d+ I=\\d+/.test(e.innerText) && e.innerText !== before)""",
        arg=[CARD, before[0]],
        timeout=15_000,
    )
    card = _cards(page)[0]
    expected = kernel_eval(page, EXPLORER + f"print(_pw.card_text(_x.result.candidates[{index}]))")
    expected = expected.strip()
    assert ARCH.search(card).group(0) == ARCH.search(expected).group(0), (card, expected)
    assert card.splitlines()[0].strip() == expected.splitlines()[0].strip()
    # The star moved to the clicked point, in the page.
    page.wait_for_function(
        "([sel, k]) => { const t = document.querySelector(sel).data[4];"
        " return t.customdata && t.customdata.length === 1 && t.customdata[0] === k; }",
        arg=[PLOT_SELECTOR, index],
    )
    page.mouse.move(5, 5)  # move the hover label off the plot for the screenshot
    cell = page.locator(".jp-Cell").filter(has=page.locator(PLOT_SELECTOR)).first
    path = screenshot(page, artifacts_dir / "explorer-clicked.png", locator=cell)
    screenshot(page, artifacts_dir / "explorer-clicked-page.png")
    update_docs_image(path, "explorer.png")


def test_epsilon_slider_changes_highlighted_set(run, artifacts_dir):
    page, _ = run
    wait_for_rendered_plot(page)
    before = plot_signature(page)
    kept_before = _ids(rendered_traces(page)[KEPT])
    slider = page.locator(".jp-OutputArea .widget-slider").filter(has_text="ε").first
    slider.scroll_into_view_if_needed()
    press_slider(page, slider, "End")  # ε to its maximum: the coarsest trimming
    wait_for_plot_change(page, before)
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(sel)].some(e => e.innerText.includes('ε=0.95'))",
        arg=".jp-OutputArea .widget-html-content",
    )
    kept_after = _ids(rendered_traces(page)[KEPT])
    assert kept_after != kept_before, "moving ε did not change the highlighted set"
    expected = json.loads(kernel_eval(
        page, EXPLORER + "import json as _j; print(_j.dumps(_pw.trim_preview(_x.result, 0.95)))"))
    assert sorted(kept_after) == sorted(expected)
    assert len(kept_after) < len(kept_before), "a larger ε must keep fewer representatives"
    screenshot(page, artifacts_dir / "explorer-epsilon.png")


def test_render_check_fails_without_widget(runs):
    """The explorer printed instead of displayed: static figures render, the check must raise."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page, _ = runs.get(f"{NAME}-negative")
    assert page.locator(".jp-RenderedPlotly").count() >= 1, "static figures should render"
    with pytest.raises(PlaywrightTimeout):
        wait_for_rendered_plot(page, timeout=3)
    assert page.locator(PLOT_SELECTOR).count() == 0
