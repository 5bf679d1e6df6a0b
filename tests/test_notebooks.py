"""Every notebook in notebooks/: structure (fast) and a papermill smoke run (marked notebook).

A new notebook is tested by adding it to notebooks/; add its headline checks to CHECKS below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REQUIRED = {"output_dir", "seed", "smoke"}
_DEF = re.compile(r"^\s*(def|class|async\s+def)\s", re.MULTILINE)
_TORCH = re.compile(r"^\s*(import torch|from torch)\b", re.MULTILINE)


def _ids(paths):
    return [p.stem for p in paths]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_structure(path):
    import papermill

    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown", "first cell must be the markdown title"
    code = _code_cells(nb)
    assert code and "parameters" in code[0].metadata.get("tags", []), (
        "the first code cell must be tagged 'parameters'"
    )
    params = papermill.inspect_notebook(str(path))
    assert REQUIRED <= set(params), f"parameters cell lacks {REQUIRED - set(params)}"
    first = [line.split(":")[0].split("=")[0].strip() for line in code[0].source.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert first[:3] == ["output_dir", "seed", "smoke"], (
        "parameters must start with output_dir, seed, smoke"
    )
    for cell in code:
        assert not cell.get("outputs"), "notebooks are committed without outputs"
        assert cell.get("execution_count") is None, "notebooks are committed without counts"
        assert not _DEF.search(cell.source), "no def/class in notebooks: it belongs in bortkit"
        assert not _TORCH.search(cell.source), "notebooks never import torch: bortkit does"


# Headline checks per notebook, on its summary.json: key -> predicate.
CHECKS = {
    # The article's toy counts; fewer candidates trained as ε grows; the (1 − ε) guarantee on the
    # synthetic evaluator; Agora's first round raises torus dev accuracy.
    "00_tour": lambda s: s["toy_params_source"] == 72 and s["toy_params_extracted"] == 40
    and all(a >= b for a, b in zip(s["n_trained"], s["n_trained"][1:]))
    and s["n_trained"][-1] < s["n_space"]
    and all(w >= 1 - e for w, e in zip(s["w_ratio"], s["epsilons"]))
    and s["torus_dev_accuracy"][1] > s["torus_dev_accuracy"][0],
    "05_agora": lambda s: s["n_rounds"] >= 1
    and all(a > b for a, b in zip(s["thetas_per_round"], s["thetas_per_round"][1:]))
    and 0 <= s["best_dev_accuracy"] <= 1,
    "03_pretrain": lambda s: s["steps"] >= 1 and 0 <= s["kd_accuracy"] <= 1
    and 0 <= s["mlm_accuracy"] <= 1 and s["kd_loss"] > 0 and s["model_dir"],
    "04_finetune": lambda s: s["n_theta"] >= 2
    and {"random-init", "minilm"} <= set(s["test_accuracy"])
    and 0 < s["labeller_val_accuracy"] <= 1,
    "01_profile": lambda s: s["n_models"] >= 2 and all(v > 0 for v in s["latency_ms"].values()),
    "02_fptas": lambda s: 0 < s["n_trained"] <= s["n_space"]
    and s["chosen_arch"]["hidden_size"] > 0
    and s["chosen_w"] > 0 and s["front_size"] >= 1,
}


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_execute_smoke(path, tmp_path, blocked_network):
    import papermill

    attempts, loaded = blocked_network

    # Hermetic: the kernel runs in tmp_path, so no default path can reach an earlier local run's
    # artifacts/; upstream-folder parameters default to "" (run alone).
    out_dir = tmp_path / path.stem
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters=dict(smoke=True, seed=0, output_dir=str(out_dir)),
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    summary_path = out_dir / "summary.json"
    assert summary_path.is_file(), "the notebook must write summary.json last"
    summary = json.loads(summary_path.read_text())
    assert isinstance(summary, dict) and summary
    check = CHECKS.get(path.stem)
    if check is not None:
        assert check(summary), f"headline check failed for {path.stem}: {summary}"
    assert list(out_dir.glob("*.html")), "the notebook must save its figures as HTML"
    # Offline by construction: the kernel ran the socket guard and nothing tried to connect out.
    assert loaded.read_text().split(), "the kernel must have loaded the network guard"
    tried = attempts.read_text()
    assert tried == "", f"{path.stem} reached for the network:\n{tried}"
