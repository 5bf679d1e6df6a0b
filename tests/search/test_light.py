"""The search stays light: importing it never pulls torch, transformers, plotly, optuna or dask.

Run in a fresh interpreter, so that nothing another test imported can hide a heavy import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "plotly", "optuna", "dask", "distributed")
MODULES = (
    "bortkit.search",
    "bortkit.search.fptas",
    "bortkit.search.baselines",
    "bortkit.search.store",
    "bortkit.search.executors",
    "bortkit.search.tour",
    "bortkit.search.optuna_study",
    "bortkit.search.audit",
    "bortkit.arch",
    "bortkit.theta",
)


@pytest.mark.parametrize("module", MODULES)
def test_import_pulls_no_heavy_package(module):
    code = (f"import json, sys, {module}; "
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], f"import {module} pulled {out.stdout.strip()}"
