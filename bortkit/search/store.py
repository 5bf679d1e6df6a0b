"""SQLite results store: every evaluation once, committed as soon as it finishes, resumable.

One row per evaluation in `evaluations`, keyed by `make_key(space, spec, θ, steps, seed,
evaluator version)` (sha256 of canonical JSON), written with INSERT OR IGNORE so a key is
stored at most once. Each `put` is its own transaction, and it also appends a row to
`completions` in the same transaction: that log records every evaluation that finished and was
handed to the store, so "was anything evaluated twice?" is a query
(`Store.completion_counts`), and a SIGKILL can never separate a result from its log row.

The database runs in WAL mode with synchronous=NORMAL: a committed transaction survives the
writing process being killed (only an OS crash / power loss may drop the last commits), and
readers (a notebook watching a sweep) never block the writer. A sweep killed at any point
loses only the evaluations in flight; rerunning it skips every stored key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from bortkit.search.evaluation import EvalResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    key TEXT PRIMARY KEY,
    space TEXT NOT NULL,
    spec TEXT NOT NULL,
    theta TEXT NOT NULL,
    steps INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    evaluator TEXT NOT NULL,
    error REAL NOT NULL,
    loss REAL NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS completions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    pid INTEGER NOT NULL,
    created REAL NOT NULL
);
"""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def make_key(
    *,
    space: str,
    spec: Mapping[str, Any],
    theta: Mapping[str, Any],
    steps: int,
    seed: int,
    evaluator: str,
) -> str:
    """The idempotency key of one evaluation: sha256 of its canonical JSON description."""
    blob = canonical_json(
        {
            "space": space,
            "spec": dict(spec),
            "theta": dict(theta),
            "steps": int(steps),
            "seed": int(seed),
            "evaluator": evaluator,
        }
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Store:
    """A results store in one SQLite file (or ``":memory:"`` for a throw-away run).

    Args:
        path: the database file; parent folders are created.
        timeout: seconds to wait for a lock held by another process.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, timeout: float = 30.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False)
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._conn.commit()

    # -- context manager -------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------
    def get(self, key: str) -> EvalResult | None:
        """The stored result under `key`, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT error, loss, seconds FROM evaluations WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else EvalResult(*row)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every stored evaluation as a flat dict (spec and θ decoded), in insertion order."""
        with self._lock:
            cur = self._conn.execute(
                "SELECT key, space, spec, theta, steps, seed, evaluator, error, loss, seconds, "
                "created FROM evaluations ORDER BY rowid"
            )
            names = [d[0] for d in cur.description]
            data = cur.fetchall()
        for values in data:
            row = dict(zip(names, values))
            row["spec"] = json.loads(row["spec"])
            row["theta"] = json.loads(row["theta"])
            yield row

    def completion_counts(self) -> dict[str, int]:
        """How many finished evaluations were handed to the store, per key (1 = no duplicate)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, COUNT(*) FROM completions GROUP BY key"
            ).fetchall()
        return {k: int(n) for k, n in rows}

    # -- writes ----------------------------------------------------------------------------
    def put(
        self,
        key: str,
        result: EvalResult,
        *,
        space: str,
        spec: Mapping[str, Any],
        theta: Mapping[str, Any],
        steps: int,
        seed: int,
        evaluator: str,
    ) -> bool:
        """Store `result` under `key` and commit; False if the key was already stored.

        The completion log row is written in the same transaction, whatever the outcome.

        Raises:
            ValueError: if `key` is not `make_key` of the fields stored with it (a row whose
                key does not describe it would be skipped or reused by the wrong sweep).
        """
        expected = make_key(space=space, spec=spec, theta=theta, steps=steps, seed=seed,
                            evaluator=evaluator)
        if key != expected:
            raise ValueError(f"Store.put: key {key[:12]}… does not match its fields "
                             f"(expected {expected[:12]}…)")
        now = time.time()
        with self._lock, self._conn:  # one transaction, committed on exit
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO evaluations (key, space, spec, theta, steps, seed, "
                "evaluator, error, loss, seconds, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    space,
                    canonical_json(dict(spec)),
                    canonical_json(dict(theta)),
                    int(steps),
                    int(seed),
                    evaluator,
                    float(result.error),
                    float(result.loss),
                    float(result.seconds),
                    now,
                ),
            )
            self._conn.execute(
                "INSERT INTO completions (key, pid, created) VALUES (?,?,?)",
                (key, os.getpid(), now),
            )
            return cur.rowcount == 1


def open_store(path: str | os.PathLike[str] | None) -> Store:
    """`Store(path)`, or an in-memory store when `path` is None or empty."""
    return Store(":memory:" if path in (None, "") else path)


__all__ = ["Store", "canonical_json", "make_key", "open_store"]
