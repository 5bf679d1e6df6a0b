"""Sweeps as Optuna studies, checked through Optuna's own API (`optuna.load_study`).

Every sweep record (FPTAS, exhaustive, NSGA-II, a results store) goes into an SQLite RDB
storage in a temporary folder; what Optuna reads back must equal bortkit's record: the trial
count, the values (p, i, e), the params (shape and θ) and the user attributes (W, group,
trained/inherited, the card). Bad storage URLs are one `ValueError` naming the URL.
"""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pytest

from bortkit.cli import main
from bortkit.search import baselines, fptas, optuna_study
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store
from bortkit.theta import theta_grid

EV = SyntheticEvaluator()
CFG = FptasConfig.smoke(theta=theta_grid("lr2"))
SPACE = SearchSpace.tiny()


@pytest.fixture(scope="module")
def results():
    return {
        "fptas": fptas.search(SPACE, CFG, evaluator=EV, progress=False),
        "exhaustive": baselines.exhaustive(SPACE, CFG, evaluator=EV, progress=False),
        "nsga2": baselines.nsga2(SPACE, CFG, evaluator=EV, n_candidates=4, progress=False),
    }


def _url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'sweeps.db'}"


@pytest.mark.parametrize("method", ["fptas", "exhaustive", "nsga2"])
def test_every_sweep_round_trips_through_optuna(tmp_path, results, method):
    result = results[method]
    done = optuna_study.export_study(result, storage=_url(tmp_path), study_name=method)
    study = optuna.load_study(study_name=method, storage=_url(tmp_path))

    with_e = [c for c in result.candidates if c.trials]
    assert len(study.trials) == done.n_trials == sum(len(c.trials) for c in with_e)
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE] * 3
    assert study.metric_names == ["p", "i", "e"]
    assert study.user_attrs["method"] == method
    assert study.user_attrs["chosen"] == result.chosen.spec.label
    # Trial order is candidate, then Θ: compare each trial with bortkit's record.
    pairs = [(c, t) for c in with_e for t in c.trials]
    for trial, (c, t) in zip(study.trials, pairs):
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.values == [c.params, c.ops, t.error]
        assert trial.params == {"D": c.spec.D, "A": c.spec.A, "H": c.spec.H, "I": c.spec.I,
                                **{f"theta_{k}": v for k, v in t.theta.to_dict().items()}}
        a = trial.user_attrs
        assert (a["label"], a["p"], a["i"], a["e"], a["steps"]) == (
            c.spec.label, c.params, c.ops, t.error, c.steps)
        assert (a["W"], a["group"], a["trained"], a["inherited"]) == (
            t.w, c.group, c.trained, c.inherited)
        assert a["best_theta"] == (t is c.best)
        assert a["chosen"] == (c.index == result.chosen.index)
    # The records the module writes are exactly what Optuna gives back.
    records = optuna_study.study_trials(result)
    assert [(list(r.values), r.params, r.user_attrs) for r in records] == [
        (t.values, t.params, t.user_attrs) for t in study.trials]


def test_inherited_candidates_are_marked(results):
    result = results["fptas"]
    assert result.n_inherited > 0
    attrs = [t.user_attrs for t in optuna_study.study_trials(result)]
    inherited = {a["label"] for a in attrs if a["inherited"]}
    assert inherited == {c.spec.label for c in result.candidates if c.inherited}
    assert all(a["steps"] is None and a["seconds"] == 0.0 for a in attrs if a["inherited"])


def test_store_export_from_the_command_line(tmp_path):
    path = tmp_path / "store.db"
    with Store(path) as store:
        fptas.search(SPACE, CFG, evaluator=EV, store=store, progress=False)
        n_rows = len(store)
    rc = main(["optuna-export", str(path), "--storage", _url(tmp_path), "--study", "store"])
    assert rc == 0
    study = optuna.load_study(study_name="store", storage=_url(tmp_path))
    assert len(study.trials) == n_rows
    with Store(path) as store:
        rows = list(store.rows())
    for trial, row in zip(study.trials, rows):
        assert trial.values[2] == row["error"]
        assert trial.user_attrs["key"] == row["key"]
        assert trial.params["D"] == row["spec"]["num_hidden_layers"]
        assert "W" not in trial.user_attrs  # a store knows no maximum point


def test_run_folder_export_from_the_command_line(tmp_path, results, capsys):
    out = fptas.save_result(results["fptas"], tmp_path / "run")
    assert main(["optuna-export", str(out), "--storage", _url(tmp_path), "--study", "r"]) == 0
    assert "optuna-dashboard sqlite:///" in capsys.readouterr().out
    # The same name again is refused; --overwrite replaces the study (not doubled).
    assert main(["optuna-export", str(out), "--storage", _url(tmp_path), "--study", "r"]) == 2
    assert "already exists" in capsys.readouterr().err
    args = ["optuna-export", str(out), "--storage", _url(tmp_path), "--study", "r",
            "--overwrite"]
    assert main(args) == 0
    study = optuna.load_study(study_name="r", storage=_url(tmp_path))
    assert len(study.trials) == results["fptas"].n_evaluations + sum(
        len(c.trials) for c in results["fptas"].candidates if c.inherited)


@pytest.mark.parametrize("url, says", [
    ("sweeps.db", "malformed or unreachable"),
    ("sqlite:////nonexistent-bortkit-dir/sweeps.db", "malformed or unreachable"),
    ("postgresql://user:secret@127.0.0.1:1/db", "driver is not installed"),
    ("", "must be a database URL"),
])
def test_bad_storage_url_is_one_clear_error(results, url, says):
    with pytest.raises(ValueError, match=says) as info:
        optuna_study.export_study(results["fptas"], storage=url, study_name="x")
    assert "secret" not in str(info.value)  # the password is masked
    if url:
        assert optuna_study.mask_url(url) in str(info.value)


def test_bad_storage_url_on_the_command_line(tmp_path, results, capsys):
    out = fptas.save_result(results["fptas"], tmp_path / "run")
    url = "sqlite:////nonexistent-bortkit-dir/sweeps.db"
    assert main(["optuna-export", str(out), "--storage", url, "--study", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and url in err


def test_load_sweep_refuses_what_is_not_a_sweep(tmp_path):
    with pytest.raises(FileNotFoundError, match="no fptas_result.json"):
        optuna_study.load_sweep(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        optuna_study.load_sweep(tmp_path / "missing")
    optuna_study.check_storage(_url(tmp_path))  # an Optuna database is SQLite, not a store
    with pytest.raises(ValueError, match="not a bortkit results store"):
        optuna_study.load_sweep(tmp_path / "sweeps.db")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a readable JSON file"):
        optuna_study.load_sweep(tmp_path / "notes.txt")


def test_empty_store_and_bad_names(tmp_path):
    with Store(tmp_path / "empty.db") as store:
        with pytest.raises(ValueError, match="nothing to export"):
            optuna_study.export_study(store, storage=_url(tmp_path), study_name="e")
    with pytest.raises(ValueError, match="study_name"):
        optuna_study.write_study(optuna_study.study_trials(
            fptas.search(SPACE, CFG, evaluator=EV, progress=False)), storage=_url(tmp_path),
            study_name=" ")
    with pytest.raises(TypeError, match="source must be"):
        optuna_study.export_study(42, storage=_url(tmp_path), study_name="x")


def test_import_stays_light():
    code = ("import json, sys, bortkit.search.optuna_study; print(json.dumps(sorted(m for m in "
            "('torch', 'optuna', 'sqlalchemy', 'plotly') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_fptas_cli_writes_the_sweep_to_optuna(tmp_path):
    """`bortkit fptas --optuna-storage URL` writes one trial per candidate, loadable by Optuna."""
    import optuna

    from bortkit.cli import main
    from bortkit.search import load_result

    out, db = tmp_path / "run", tmp_path / "new-folder" / "sweeps.db"
    code = main(["fptas", "--space", "tiny", "--evaluator", "synthetic", "--out", str(out),
                 "--no-progress", "--optuna-storage", f"sqlite:///{db}"])
    assert code == 0
    study = optuna.load_study(study_name="run", storage=f"sqlite:///{db}")
    result = load_result(out)
    assert len(study.trials) == len(result.candidates)
    chosen = [t for t in study.trials if t.user_attrs["chosen"]]
    assert [t.user_attrs["label"] for t in chosen] == [result.chosen.spec.label]


def test_fptas_cli_bad_storage_fails_before_training(tmp_path, capsys):
    from bortkit.cli import main

    code = main(["fptas", "--space", "tiny", "--evaluator", "synthetic", "--out",
                 str(tmp_path / "run"), "--optuna-storage", "nosuchdialect://x"])
    assert code == 2  # a bad URL is a user error from the command itself, not from argparse
    assert "nosuchdialect://x" in capsys.readouterr().err
    assert not (tmp_path / "run" / "fptas_result.json").exists()
