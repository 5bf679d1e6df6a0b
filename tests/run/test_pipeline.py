"""Pipeline mechanics on two tiny notebooks: parameters, upstream links, resume, index."""

from __future__ import annotations

import json

import nbformat
import pytest

from bortkit.run import pipeline, report

FIRST = """output_dir: str = "x"  # out
seed: int = 0  # seed
smoke: bool = False  # smoke
scale: float = 1.0  # a knob"""
FIRST_BODY = """import json, pathlib
out = pathlib.Path(output_dir); out.mkdir(parents=True, exist_ok=True)
(out / "summary.json").write_text(json.dumps({"value": scale * 2, "smoke": smoke}))
(out / "fig.html").write_text("<html></html>")"""
SECOND = """output_dir: str = "y"  # out
seed: int = 0  # seed
smoke: bool = False  # smoke
first_dir: str = ""  # upstream"""
SECOND_BODY = """import json, pathlib
out = pathlib.Path(output_dir); out.mkdir(parents=True, exist_ok=True)
v = json.loads((pathlib.Path(first_dir) / "summary.json").read_text())["value"]
(out / "summary.json").write_text(json.dumps({"doubled": v * 2}))"""


def _notebook(path, params, body):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def fake_notebooks(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "01_a.ipynb", FIRST, FIRST_BODY)
    _notebook(nbdir / "02_b.ipynb", SECOND, SECOND_BODY)
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", nbdir)
    monkeypatch.setitem(
        pipeline.PROFILES,
        "test",
        (pipeline.Step("01_a", {"scale": 3.0}), pipeline.Step("02_b", {}, {"first_dir": "01_a"})),
    )
    return nbdir


def test_resolve_and_coerce(fake_notebooks):
    path = pipeline.resolve_notebook("01_a")
    assert path.name == "01_a.ipynb"
    assert pipeline.coerce_parameter(path, "scale", "2.5") == 2.5
    assert pipeline.coerce_parameter(path, "smoke", "true") is True
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        pipeline.coerce_parameter(path, "nope", "1")
    with pytest.raises(ValueError, match="scale='abc': .*cannot read it"):
        pipeline.coerce_parameter(path, "scale", "abc")
    with pytest.raises(FileNotFoundError, match="01_a"):
        pipeline.resolve_notebook("99_missing")


@pytest.mark.slow
def test_pipeline_links_upstream_resumes_and_indexes(fake_notebooks, tmp_path):
    result = pipeline.run_pipeline("test", runs_root=tmp_path / "runs", stamp="s1", progress=False)
    assert result.ok and [r.notebook for r in result.runs] == ["01_a", "02_b"]
    root = tmp_path / "runs" / "s1"
    assert json.loads((root / "02_b" / "summary.json").read_text()) == {"doubled": 12.0}
    index = (root / "index.html").read_text()
    assert "01_a/fig.html" in index and "doubled" in index and "01_a.notebook.html" in index
    again = pipeline.run_pipeline("test", runs_root=tmp_path / "runs", stamp="s1", progress=False)
    assert all(r.skipped for r in again.runs)


@pytest.mark.slow
def test_failing_cell_is_reported_not_raised(fake_notebooks, tmp_path):
    run = pipeline.run_notebook("02_b", output_dir=tmp_path / "out",
                                parameters={"first_dir": str(tmp_path / "missing")},
                                progress=False)
    assert not run.ok and "FileNotFoundError" in run.error
    assert (tmp_path / "out" / "run.json").is_file()


def test_unknown_profile():
    with pytest.raises(ValueError, match="profiles"):
        pipeline.run_pipeline("nope")


def test_flatten_summary():
    rows = report.flatten_summary({"a": {"b": 1.234567, "c": [1, 2]}, "d": list(range(20))})
    assert rows == [("a.b", "1.235"), ("a.c", "1, 2"), ("d", "[20 items]")]


def test_write_index_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        report.write_index(tmp_path / "nope")


@pytest.mark.parametrize("profile", sorted(pipeline.PROFILES))
def test_profiles_only_set_declared_parameters(profile):
    import papermill

    for step in pipeline.PROFILES[profile]:
        declared = papermill.inspect_notebook(str(pipeline.resolve_notebook(step.notebook)))
        unknown = (set(step.parameters) | set(step.upstream)) - set(declared)
        assert not unknown, f"{profile}/{step.notebook} sets undeclared parameters {unknown}"


def test_inline_plotly_outputs_gives_figures_html():
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig")
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"application/vnd.plotly.v1+json": json.loads(fig.to_json())})]
    nb.cells = [cell, nbformat.v4.new_code_cell("x = 1")]
    assert report.inline_plotly_outputs(nb) == 1
    html = cell.outputs[0]["data"]["text/html"]
    assert 'src="plotly.min.js"' in html
    assert "application/vnd.plotly.v1+json" not in cell.outputs[0]["data"]
    assert report.inline_plotly_outputs(nb) == 0  # idempotent
