"""Set-up files stay consistent: environment.yml mirrors requirements.txt; offline env is set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bortkit import records

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    pin = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==")
    return sorted(line.strip() for line in lines if pin.match(line.strip()))


def test_environment_yml_mirrors_requirements():
    reqs = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env_lines = (ROOT / "environment.yml").read_text().splitlines()
    env = _pins(line.strip().removeprefix("- ") for line in env_lines)
    assert reqs and env == reqs


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().splitlines()


def test_import_sets_offline_environment():
    code = ("import os, bortkit; "
            "print(os.environ['HF_HUB_OFFLINE'], os.environ['HF_DATASETS_CACHE'])")
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_CACHE", "BORTKIT_CACHE")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "1" and out[1].endswith(os.path.join(".cache", "datasets"))


def test_import_fptas_stays_light():
    code = ("import sys, bortkit.arch, bortkit.run.artifacts; "
            "print(any(m in sys.modules for m in ('torch', 'plotly', 'umap')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_bad_spec_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bortkit.cli", "arch", "4,8,1000"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "4 or 5" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_atomic_write_gives_the_usual_file_mode(tmp_path):

    path = records.atomic_write_text(tmp_path / "a.txt", "hi")
    mode = path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "hi" and mode == 0o666 & ~umask
