"""Sweeps as Optuna studies, so that optuna-dashboard shows them (Pareto view, trial table).

Any sweep record becomes a three-objective study (minimise p, i, e; metric names "p", "i",
"e") in an Optuna RDB storage:

* an `FptasResult` (the FPTAS, `exhaustive` or `nsga2`: they all return one): one COMPLETE
  trial per (candidate, θ) of every candidate with an e, trained or inherited, in candidate
  then Θ order. Params: the shape D, A, H, I and θ's fields (``theta_lr``, ...). User
  attributes: the candidate card (label, D, A, H, I, p, i, e, steps), W, group,
  representative, trained / inherited / audited, the θ label, whether it is the candidate's
  best θ, loss, seconds, cached, and whether the candidate is the chosen one or on the front.
  The study's user attributes hold the run (method, evaluator, space, ε, budget, T, choice).
* a bortkit results store (`bortkit.search.store`): one trial per stored evaluation, p and i
  counted as the FPTAS counts them by default (effective p, n = min(128, positions)). A store
  knows no maximum point or groups, so these trials carry no W or group: export the run
  folder for those.

`export_study(source, storage=..., study_name=...)` writes one; `study_trials` /
`store_trials` are the pure part (records, no optuna), which the tests compare with what
`optuna.load_study` reads back. A storage URL that cannot be parsed or opened is one
`ValueError` naming it (`check_storage`; its password masked).

Then: ``optuna-dashboard sqlite:///sweeps.db`` (docs/design/optuna.md).

optuna (and SQLAlchemy, its dependency) are imported lazily through `_optuna()`, the one
import helper: `import bortkit.search` stays light.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from bortkit.arch import ArchSpec
from bortkit.records import Record, check_choice
from bortkit.search.result import Candidate, FptasResult
from bortkit.search.store import Store
from bortkit.search.trim import PARAM_COUNTS, objectives
from bortkit.theta import Theta

logger = logging.getLogger(__name__)

METRIC_NAMES = ("p", "i", "e")
_THETA_FIELDS = ("seed", "lr", "weight_decay", "warmup_ratio", "batch_size")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _optuna() -> Any:
    """optuna, imported on first use (optuna's own `_imports.check()` idiom, in one place)."""
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is pinned in requirements.txt
        raise ImportError("writing Optuna studies needs optuna: pip install optuna") from exc
    return optuna


@dataclass(frozen=True)
class StudyTrial(Record):
    """One Optuna trial as bortkit writes it: objectives (p, i, e), params and user attributes."""

    values: tuple[float, float, float]
    params: dict[str, Any]
    user_attrs: dict[str, Any]


@dataclass(frozen=True)
class StudyExport(Record):
    """What `export_study` wrote: where (password masked), which study, how many trials."""

    storage: str
    study_name: str
    source: str  # the sweep's method ("fptas", "exhaustive", "nsga2") or "store"
    n_trials: int
    study_attrs: dict[str, Any]


def _shape_params(spec: ArchSpec) -> dict[str, Any]:
    return {"D": spec.D, "A": spec.A, "H": spec.H, "I": spec.I}


def _theta_params(theta: Theta) -> dict[str, Any]:
    return {f"theta_{name}": getattr(theta, name) for name in _THETA_FIELDS}


def _card(spec: ArchSpec, p: int, i: int, e: float, steps: int | None) -> dict[str, Any]:
    """The explorer card's fields (`bortkit.widgets.pareto.card_text`) as attributes."""
    return {"label": spec.label, "D": spec.D, "A": spec.A, "H": spec.H, "I": spec.I,
            "p": int(p), "i": int(i), "e": float(e), "steps": steps}


def _candidate_trials(c: Candidate, *, chosen: int, front: set[int]) -> list[StudyTrial]:
    best = c.best
    out = []
    for t in c.trials:
        attrs = {**_card(c.spec, c.params, c.ops, t.error, c.steps), "candidate": c.index,
                 "W": t.w, "group": c.group, "representative": c.representative,
                 "trained": c.trained, "inherited": c.inherited, "audited": c.audited,
                 "theta": t.theta.label, "best_theta": t is best, "loss": t.loss,
                 "seconds": t.seconds, "cached": t.cached, "chosen": c.index == chosen,
                 "on_front": c.index in front}
        out.append(StudyTrial(values=(float(c.params), float(c.ops), float(t.error)),
                              params={**_shape_params(c.spec), **_theta_params(t.theta)},
                              user_attrs=attrs))
    return out


def study_trials(result: FptasResult) -> tuple[StudyTrial, ...]:
    """The trials of `result`: one per (candidate, θ) of every candidate with an e."""
    if not isinstance(result, FptasResult):
        raise TypeError(f"result must be an FptasResult, got {type(result).__name__}")
    front = set(result.front.indices)
    return tuple(t for c in result.candidates
                 for t in _candidate_trials(c, chosen=result.chosen.index, front=front))


def study_attrs(result: FptasResult) -> dict[str, Any]:
    """The run's description, stored as the study's user attributes."""
    cfg = result.config
    return {"method": result.method, "evaluator": result.evaluator, "space": result.space.name,
            "epsilon": cfg.epsilon, "budget_steps": result.budget_steps, "bound": result.bound,
            "param_count": cfg.param_count, "p_t": result.p_t, "i_t": result.i_t,
            "n_space": result.n_space, "n_trained": result.n_trained,
            "n_inherited": result.n_inherited, "chosen": result.chosen.spec.label,
            "hypervolume": result.front.hypervolume, "objectives": list(METRIC_NAMES)}


def store_trials(
    store: Store, *, param_count: str = "effective", seq_len: int | None = None
) -> tuple[StudyTrial, ...]:
    """One trial per evaluation stored in `store`, in insertion order.

    Args:
        store: an open bortkit results store.
        param_count: which parameter count is p (as `FptasConfig.param_count`).
        seq_len: n for i (None: min(128, the spec's positions), the FPTAS's default).
    """
    check_choice("param_count", param_count, PARAM_COUNTS)
    out = []
    for row in store.rows():
        spec, theta = ArchSpec.from_dict(row["spec"]), Theta.from_dict(row["theta"])
        p, i = objectives(spec, param_count=param_count,
                          seq_len=seq_len or min(128, spec.max_position_embeddings))
        attrs = {**_card(spec, p, i, row["error"], row["steps"]), "theta": theta.label,
                 "loss": row["loss"], "seconds": row["seconds"], "seed": row["seed"],
                 "space": row["space"], "evaluator": row["evaluator"], "key": row["key"]}
        out.append(StudyTrial(values=(float(p), float(i), float(row["error"])),
                              params={**_shape_params(spec), **_theta_params(theta)},
                              user_attrs=attrs))
    return tuple(out)


def _distributions(trials: Sequence[StudyTrial]) -> dict[str, Any]:
    """One distribution per param spanning every trial's value (Optuna requires one per study).

    Integers get an `IntDistribution` over their range, floats a `FloatDistribution` (log for
    learning rates), so the dashboard's slice and importance plots read them as numbers.
    """
    optuna = _optuna()
    dists: dict[str, Any] = {}
    for name in trials[0].params:
        values = [t.params[name] for t in trials]
        lo, hi = min(values), max(values)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            dists[name] = optuna.distributions.IntDistribution(int(lo), int(hi))
        else:
            dists[name] = optuna.distributions.FloatDistribution(
                float(lo), float(hi), log=name == "theta_lr" and lo > 0)
    return dists


def mask_url(url: str) -> str:
    """`url` with its password replaced by ``***`` (as given when it does not parse)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by check_storage
        return url


def check_storage(url: str, *, create_folder: bool = False) -> Any:
    """Open the Optuna RDB storage at `url` (creating its tables), or one clear `ValueError`.

    Args:
        url: an RDB URL (``sqlite:///sweeps.db``, ``postgresql://...``).
        create_folder: for an SQLite file, create its folder first (the CLI's --out folder).

    Returns:
        The `optuna.storages.RDBStorage`.

    Raises:
        ValueError: `url` is not a string, cannot be parsed as an SQLAlchemy URL, needs a
            driver that is not installed, or cannot be reached; the message names the URL
            (password masked).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"optuna storage must be a database URL such as "
                         f"'sqlite:///sweeps.db', got {url!r}")
    optuna = _optuna()
    if create_folder and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        # A new SQLite file may live in a folder that does not exist yet (e.g. the --out folder).
        Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        return optuna.storages.RDBStorage(url)
    except ImportError as exc:
        raise ValueError(f"optuna storage {mask_url(url)!r}: its database driver is not "
                         f"installed ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many kinds; say one thing
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"optuna storage {mask_url(url)!r} is malformed or unreachable: "
                         f"{reason} (expected e.g. 'sqlite:///sweeps.db')") from exc


def write_study(
    trials: Sequence[StudyTrial],
    *,
    storage: str,
    study_name: str,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Any:
    """Create study `study_name` in `storage` (minimise p, i, e) and add `trials` to it.

    Args:
        trials: `study_trials(...)` or `store_trials(...)`; at least one.
        storage: an RDB URL (``sqlite:///sweeps.db``, ``postgresql://...``).
        study_name: the study's name; it must not exist unless `overwrite`.
        attrs: the study's user attributes.
        overwrite: replace an existing study of that name.

    Returns:
        The `optuna.Study`. A failure while adding trials deletes the half-written study.
    """
    if not trials:
        raise ValueError("nothing to export: the sweep holds no trial with an error e")
    if not isinstance(study_name, str) or not study_name.strip():
        raise ValueError(f"study_name must be a non-empty string, got {study_name!r}")
    optuna = _optuna()
    rdb = check_storage(storage)
    if study_name in optuna.study.get_all_study_names(storage=rdb):
        if not overwrite:
            raise ValueError(f"study {study_name!r} already exists in {mask_url(storage)!r}; "
                             "choose another name or overwrite it")
        optuna.delete_study(study_name=study_name, storage=rdb)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" lines
    try:
        study = optuna.create_study(storage=rdb, study_name=study_name,
                                    directions=["minimize"] * len(METRIC_NAMES))
        try:
            with warnings.catch_warnings():  # experimental since optuna 3.2, stable in use
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names(list(METRIC_NAMES))
            for key, value in (attrs or {}).items():
                study.set_user_attr(key, value)
            dists = _distributions(trials)
            study.add_trials([
                optuna.trial.create_trial(values=list(t.values), params=dict(t.params),
                                          distributions=dists, user_attrs=dict(t.user_attrs))
                for t in trials
            ])
        except BaseException:
            optuna.delete_study(study_name=study_name, storage=rdb)
            raise
    finally:
        optuna.logging.set_verbosity(level)
    logger.info("wrote %d trials to study %r in %s", len(trials), study_name, mask_url(storage))
    return study


def _is_store(path: Path) -> bool:
    """A SQLite file holding bortkit's `evaluations` table (read-only check: writes nothing)."""
    with open(path, "rb") as fh:
        if fh.read(16) != _SQLITE_MAGIC:
            return False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                           "name='evaluations'").fetchone()
    finally:
        conn.close()
    if row is None:
        raise ValueError(f"{path}: an SQLite file without bortkit's 'evaluations' table (not a "
                         "bortkit results store)")
    return True


def load_sweep(path: str | os.PathLike[str]) -> FptasResult | Store:
    """A sweep record from disk: a run folder or ``fptas_result.json``, or a results store.

    Raises:
        FileNotFoundError: nothing at `path`, or a folder without ``fptas_result.json``.
        ValueError: a file that is neither a result nor a bortkit store.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        if not (path / FptasResult.file_name).is_file():
            raise FileNotFoundError(f"{path}: no {FptasResult.file_name} in this folder")
        return FptasResult.load(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return Store(path) if _is_store(path) else FptasResult.load(path)


def export_study(
    source: FptasResult | Store | str | os.PathLike[str],
    *,
    storage: str,
    study_name: str,
    overwrite: bool = False,
) -> StudyExport:
    """Write a sweep (a result, a store, or a path to either) as an Optuna study.

    Args:
        source: an `FptasResult`, an open `Store`, or a path for `load_sweep`.
        storage, study_name, overwrite: as for `write_study`.
    """
    opened = None
    if isinstance(source, (str, os.PathLike)):
        source = opened = load_sweep(source)
    try:
        if isinstance(source, FptasResult):
            trials, attrs, kind = study_trials(source), study_attrs(source), source.method
        elif isinstance(source, Store):
            trials, kind = store_trials(source), "store"
            attrs = {"method": "store", "objectives": list(METRIC_NAMES),
                     "param_count": "effective"}
        else:
            raise TypeError(f"source must be an FptasResult, a Store or a path, "
                            f"got {type(source).__name__}")
    finally:
        if isinstance(opened, Store):
            opened.close()
    write_study(trials, storage=storage, study_name=study_name, attrs=attrs,
                overwrite=overwrite)
    return StudyExport(storage=mask_url(storage), study_name=study_name, source=kind,
                       n_trials=len(trials), study_attrs=attrs)


__all__ = [
    "METRIC_NAMES",
    "StudyExport",
    "StudyTrial",
    "check_storage",
    "export_study",
    "load_sweep",
    "mask_url",
    "store_trials",
    "study_attrs",
    "study_trials",
    "write_study",
]
