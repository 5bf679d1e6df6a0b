"""05_agora.ipynb in a real JupyterLab: the Agora round viewer renders and its slider works.

Runs all cells of the smoke-parameterised notebook through JupyterLab's 'Run All Cells', then
checks in the page (not in the kernel) that plotly.js drew the round viewer with as many points
as the kernel-side figure holds, and that moving the round slider with the keyboard redraws the
scatter with the next round's data.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from labdriver import (
    PLOT_SELECTOR,
    kernel_widget,
    plot_signature,
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
NAME = "05_agora"
MODULE = "bortkit.widgets.agora"


def _n_points(traces, *, key: str = "x") -> int:
    return sum(len(t[key] or ()) for t in traces)


def _same(a, b) -> bool:
    """Equal coordinate lists (rendered floats vs the kernel's), NaN-tolerant."""
    a, b = list(a or ()), list(b or ())
    if len(a) != len(b):
        return False
    for u, v in zip(a, b):
        if isinstance(u, (int, float)) and isinstance(v, (int, float)):
            if not (math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-9) or (u != u and v != v)):
                return False
        elif u != v:
            return False
    return True


def _prepare(lab_root: Path, out: Path) -> str:
    src = ROOT / "notebooks" / f"{NAME}.ipynb"
    prepare_notebook(src, lab_root / "notebooks", dict(smoke=True, seed=0, output_dir=str(out)))
    return f"notebooks/{NAME}.ipynb"


# Notebook runs this module needs; conftest starts all modules' runs at once.
RUNS = {NAME: _prepare}


@pytest.fixture(scope="module")
def agora_page(runs):
    page, _ = runs.get(NAME)
    return page


def test_round_viewer_renders_all_points(agora_page, artifacts_dir):
    page = agora_page
    truth = kernel_widget(page, MODULE, state=("round_index",))
    expected = _n_points(truth["traces"])
    assert expected > 0, "the kernel-side round viewer holds no point"
    plot = wait_for_rendered_plot(page, min_points=1)
    plot.scroll_into_view_if_needed()
    drawn = rendered_traces(page)
    assert [t["name"] for t in drawn] == [t["name"] for t in truth["traces"]]
    assert _n_points(drawn) == expected
    # Marker points plotly.js actually drew as SVG paths, trace by trace.
    for r, k in zip(drawn, truth["traces"]):
        if r["mode"] and "markers" in r["mode"]:
            assert r["drawn_points"] == len(k["x"] or ()), r["name"]
    screenshot(page, artifacts_dir / "agora-round0.png")


def test_round_slider_redraws_next_round(agora_page, artifacts_dir):
    page = agora_page
    wait_for_rendered_plot(page, min_points=1)
    before_truth = kernel_widget(page, MODULE, state=("round_index",))
    if before_truth["state"].get("round_index") != 0:
        pytest.fail(f"viewer should start at round 0: {before_truth['state']}")
    before = rendered_traces(page)
    signature = plot_signature(page)
    slider = page.locator(".jp-OutputArea .widget-slider").filter(has_text="round").first
    slider.scroll_into_view_if_needed()
    press_slider(page, slider, "ArrowRight", times=1)
    # The kernel receives the new value, redraws, and the page shows the new round.
    wait_for_plot_change(page, signature)
    after_truth = kernel_widget(page, MODULE, state=("round_index",))
    assert after_truth["state"]["round_index"] == 1, "the slider did not reach the kernel"
    after = rendered_traces(page)
    assert after[0]["title"] == after_truth["title"]
    for r, k in zip(after, after_truth["traces"]):
        assert _same(r["x"], k["x"]) and _same(r["y"], k["y"]), f"trace {r['name']} not redrawn"
    changed = [a["name"] for a, b in zip(after, before)
               if not (_same(a["x"], b["x"]) and _same(a["y"], b["y"])
                       and a["marker_color"] == b["marker_color"])]
    assert changed, "moving the round slider changed nothing in the page"
    page.mouse.move(5, 5)
    screenshot(page, artifacts_dir / "agora-round1-page.png")
    cell = page.locator(".jp-Cell").filter(has=page.locator(PLOT_SELECTOR)).first
    path = screenshot(page, artifacts_dir / "agora-round1.png", locator=cell)
    update_docs_image(path, "agora.png")
