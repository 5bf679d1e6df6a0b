"""Fixtures for the `browser` tier: one JupyterLab server and one Chromium per session.

The tier skips (with the reason) only where Debian's Chromium is absent and cannot be installed
by us (not root); as root — CI — a missing browser is an error, because `make test` installs it
(`make browser-deps`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from labdriver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Lab,
    close_notebook_page,
    open_and_start,
    screenshot,
    start_lab,
    wait_run_all,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
HERE = Path(__file__).resolve().parent


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def pytest_collection_modifyitems(config, items):
    here = [it for it in items if HERE in Path(str(it.fspath)).resolve().parents]
    for it in here:
        it.add_marker(pytest.mark.browser)
    if CHROMIUM.exists() or _is_root():
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is missing and we are not root: "
        "`sudo apt-get install -y chromium` (or `make browser-deps` as root) to run this tier"
    )
    for it in here:
        it.add_marker(skip)


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """The directory JupyterLab serves: tests put prepared notebook copies in it."""
    return tmp_path_factory.mktemp("lab_root")


@pytest.fixture(scope="session")
def lab(lab_root, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a random token; always shut down afterwards."""
    server: Lab | None = None
    try:
        # BORTKIT_LAB_DISABLE=anywidget: run the tier without the widget front end (it must fail).
        disabled = tuple(x for x in os.environ.get("BORTKIT_LAB_DISABLE", "").split(",") if x)
        server = start_lab(lab_root, tmp_path_factory.mktemp("lab_home"),
                           disabled_extensions=disabled)
        yield server
    finally:
        if server is not None:
            server.stop()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy2(server.log_path, ARTIFACTS / "jupyterlab.log")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright (no browser download)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser-deps` (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request):
    """After a failed test, save a screenshot of every open notebook page to test-artifacts/."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed or "runs" not in request.fixturenames:
        return
    runs = request.getfixturevalue("runs")
    for key, pg in runs.pages.items():
        try:
            screenshot(pg, ARTIFACTS / f"FAILED-{request.node.name}-{key}.png")
        except Exception:  # noqa: BLE001 - best effort on an already failing test
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


class Runs:
    """Notebooks started together in JupyterLab (their kernels run in parallel).

    ``get(key)`` waits for that notebook's 'Run All Cells' to finish and returns
    ``(page, output_dir)``; a failure is kept and raised again for every test that needs it.
    """

    def __init__(self, lab: Lab, browser, artifacts: Path, timeout: float = 240.0) -> None:
        self.lab, self.browser, self.artifacts, self.timeout = lab, browser, artifacts, timeout
        self.pages: dict[str, object] = {}
        self.outs: dict[str, Path] = {}
        self.errors: dict[str, BaseException] = {}
        self.finished: set[str] = set()

    def start(self, key: str, prepare, lab_root: Path, out: Path) -> None:
        try:
            relpath = prepare(lab_root, out)
            self.outs[key] = out
            self.pages[key] = open_and_start(self.browser, self.lab, relpath)
        except Exception as exc:  # noqa: BLE001 - reported by the tests that need it
            self.errors[key] = exc

    def get(self, key: str):
        if key in self.errors:
            raise self.errors[key]
        if key not in self.pages:
            raise KeyError(f"no notebook run {key!r}: add it to the test module's RUNS")
        page = self.pages[key]
        if key not in self.finished:
            try:
                wait_run_all(page, timeout=self.timeout)
            except Exception as exc:
                screenshot(page, self.artifacts / f"FAILED-{key}-run.png")
                self.errors[key] = exc
                raise
            self.finished.add(key)
        return page, self.outs[key]

    def close_all(self) -> None:
        for page in self.pages.values():
            close_notebook_page(page, self.lab)
        self.pages.clear()


@pytest.fixture(scope="session")
def runs(browser, lab, lab_root, tmp_path_factory, request, artifacts_dir):
    """Start, at once, every notebook run that the selected tests' modules declare in ``RUNS``.

    ``RUNS`` maps a key to ``prepare(lab_root, output_dir) -> path relative to lab_root``.
    Kernel start-up and imports dominate the tier's time, so they overlap here.
    """
    specs: dict = {}
    for item in request.session.items:
        specs.update(getattr(getattr(item, "module", None), "RUNS", {}))
    r = Runs(lab, browser, artifacts_dir)
    try:
        for key, prepare in specs.items():
            r.start(key, prepare, lab_root, tmp_path_factory.mktemp(key) / "run")
        yield r
    finally:
        r.close_all()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory) -> Path:
    """Screenshots of every browser test: a temp folder, or $BORTKIT_TEST_ARTIFACTS if set."""
    chosen = os.environ.get("BORTKIT_TEST_ARTIFACTS")
    if not chosen:
        return tmp_path_factory.mktemp("browser-screenshots")
    path = Path(chosen).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
