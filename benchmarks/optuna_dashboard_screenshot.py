"""Screenshot optuna-dashboard showing a bortkit sweep, in headless Chromium (Playwright).

Runs the FPTAS on the CPU space with the synthetic evaluator (seconds; a teaching stand-in,
not a measurement), writes it as an Optuna study (`bortkit.search.optuna_study`), starts
``optuna-dashboard`` on it on a free local port, and saves the study page (the Pareto front
of p, i, e) to docs/img/optuna-dashboard.png. Chromium is Debian's (/usr/bin/chromium, or
BORTKIT_CHROMIUM), driven as tests/browser drives it.

Usage::

    python benchmarks/optuna_dashboard_screenshot.py [--out docs/img/optuna-dashboard.png]
        [--page analytics]    # or: trials, trialTable ("" for the study's front page)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import bortkit  # noqa: F401 - offline environment first
from bortkit.search import fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.optuna_study import export_study
from bortkit.search.space import SearchSpace
from bortkit.theta import theta_grid

CHROMIUM = Path(os.environ.get("BORTKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.time() > deadline:
                raise TimeoutError(f"optuna-dashboard did not answer at {url}") from None
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/img/optuna-dashboard.png")
    p.add_argument("--page", default="", help="study sub-page: '', analytics, trials, ...")
    p.add_argument("--space", default="cpu")
    args = p.parse_args(argv)
    dashboard = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent /
                                                        "optuna-dashboard")
    if not Path(dashboard).is_file():
        raise SystemExit("optuna-dashboard is not installed: pip install optuna-dashboard")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bortkit-dashboard-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'sweeps.db'}"
        result = fptas.search(SearchSpace.named(args.space),
                              FptasConfig.smoke(theta=theta_grid("lr2")),
                              evaluator=SyntheticEvaluator(), progress=False)
        done = export_study(result, storage=url, study_name=f"fptas-{args.space}")
        print(f"{done.n_trials} trials in {done.study_name!r}", file=sys.stderr)
        port = _free_port()
        server = subprocess.Popen([dashboard, url, "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(base + "/api/studies")
            page_url = f"{base}/dashboard/studies/1" + (f"/{args.page}" if args.page else "")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(page_url, wait_until="networkidle")
                    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
                    page.wait_for_timeout(2_000)  # let plotly finish its transitions
                    out = Path(args.out)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(out), full_page=True)
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {out} ({page_url})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
