"""The SQLite store: idempotent keys, WAL, commit-per-evaluation, and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from bortkit.search import fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import EvalResult, SyntheticEvaluator
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store, make_key
from bortkit.theta import theta_grid

KEY_ARGS = dict(space="tiny", spec={"num_hidden_layers": 1}, theta={"lr": 1e-3}, steps=10,
                seed=0, evaluator="synthetic-v1")


def test_key_is_stable_and_ignores_dict_order():
    assert make_key(**KEY_ARGS) == make_key(**KEY_ARGS)
    swapped = dict(KEY_ARGS, theta={"b": 2, "a": 1})
    assert make_key(**swapped) == make_key(**dict(KEY_ARGS, theta={"a": 1, "b": 2}))
    assert len(make_key(**KEY_ARGS)) == 64


@pytest.mark.parametrize(
    "field, value",
    [("space", "cpu"), ("spec", {"num_hidden_layers": 2}), ("theta", {"lr": 2e-3}),
     ("steps", 11), ("seed", 1), ("evaluator", "synthetic-v2")],
)
def test_key_changes_with_every_field(field, value):
    assert make_key(**dict(KEY_ARGS, **{field: value})) != make_key(**KEY_ARGS)


def test_put_get_is_idempotent_and_logs_completions(tmp_path):
    path = tmp_path / "runs" / "store.sqlite"
    key = make_key(**KEY_ARGS)
    meta = {k: v for k, v in KEY_ARGS.items()}
    with Store(path) as store:
        assert store.get(key) is None and key not in store
        assert store.put(key, EvalResult(0.5, 0.7, 1.0), **meta) is True
        assert store.put(key, EvalResult(0.9, 0.9, 9.0), **meta) is False  # first write wins
        assert store.get(key) == EvalResult(0.5, 0.7, 1.0)
        assert store.completion_counts() == {key: 2}
    with Store(path) as store:  # persisted across connections
        assert len(store) == 1 and key in store
        (row,) = store.rows()
        assert row["theta"] == {"lr": 1e-3} and row["steps"] == 10
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_in_memory_store():
    store = Store()
    store.put(make_key(**KEY_ARGS), EvalResult(0.1, 0.2, 0.3), **KEY_ARGS)
    assert len(store) == 1


_SWEEP = """
import sys
from bortkit.search import fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store
from bortkit.theta import theta_grid
db, log, out, sleep = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ev = SyntheticEvaluator(sleep_s=sleep, log_path=log)
cfg = FptasConfig(epsilon=1e-4, steps=10, theta=theta_grid("lr2"))
res = fptas.search(SearchSpace.tiny(), cfg, evaluator=ev, store=Store(db), progress=False)
res.save(out)
"""


def _outcome(res):
    return (res.chosen.index, res.front, [(c.index, c.error, c.w) for c in res.candidates])


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_loses_and_duplicates_nothing(tmp_path):
    db, log, out = tmp_path / "s.sqlite", tmp_path / "starts.log", tmp_path / "result.json"
    cmd = [sys.executable, "-c", _SWEEP, str(db), str(log), str(out)]
    proc = subprocess.Popen(cmd + ["0.1"])
    deadline = time.time() + 60
    n_before = 0
    try:
        while time.time() < deadline:  # wait until a third of the 32 evaluations is committed
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=5) as con:
                        n_before = con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
                except sqlite3.OperationalError:
                    n_before = 0
                if n_before >= 10:
                    break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "the sweep finished before it could be killed"
    assert 10 <= n_before < 32

    subprocess.run(cmd + ["0.0"], check=True, timeout=120)

    store = Store(db)
    counts = store.completion_counts()
    assert len(store) == 32 and len(counts) == 32
    assert set(counts.values()) == {1}, "an evaluation was stored twice"
    n_starts = len(log.read_text().splitlines())
    assert 32 <= n_starts <= 33  # at most the one evaluation in flight at the kill is redone

    cfg = FptasConfig(epsilon=1e-4, steps=10, theta=theta_grid("lr2"))
    clean = fptas.search(SearchSpace.tiny(), cfg, evaluator=SyntheticEvaluator(), progress=False)
    assert _outcome(FptasResult.load(out)) == _outcome(clean)


def test_put_rejects_a_key_that_does_not_describe_its_fields(tmp_path):
    meta = dict(KEY_ARGS)
    wrong = make_key(**dict(KEY_ARGS, seed=KEY_ARGS["seed"] + 1))
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ValueError, match="does not match its fields"):
            store.put(wrong, EvalResult(0.5, 0.7, 1.0), **meta)
        assert len(store) == 0
