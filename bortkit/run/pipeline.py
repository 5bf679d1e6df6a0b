"""Run the parameterised notebooks headless (papermill), alone or as the 01 → 05 pipeline.

Each notebook writes its artifacts into its own `output_dir`; downstream notebooks receive the
upstream folder as a parameter (02 → 03 → 04 → 05), so a pipeline run is a folder
`runs/<stamp>/` with one sub-folder per notebook plus an `index.html` (see `bortkit.run.report`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from bortkit.records import Record
from bortkit.run import artifacts, params, report

logger = logging.getLogger(__name__)

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Step(Record):
    """One notebook of a pipeline: its stem, fixed parameters, and upstream links.

    `upstream` maps a parameter name to the stem of an earlier step whose output folder it
    receives (e.g. ``{"fptas_dir": "02_fptas"}``).
    """

    notebook: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    upstream: Mapping[str, str] = field(default_factory=dict)


# The quick profile fits in about 20 minutes on 2 cores; full is for a machine with more time.
QUICK_TEACHER_STEPS = 400  # the quick profile's teacher build (~32% held-out; default 2,000)
# Parameter names are each notebook's own (see its parameters cell).
PROFILES: dict[str, tuple[Step, ...]] = {
    # About 20 minutes on 2 cores from a fresh checkout, including the one-off builds of a
    # 400-step teacher (not the default 2,000: ~14 quiet minutes alone) and its output cache,
    # both cached afterwards. Sizes are a project choice for a quick look, not a result.
    "quick": (
        Step("01_profile", {"repeats": 10}),
        Step("02_fptas", {"epsilon": 0.5, "steps": 20, "teacher_steps": QUICK_TEACHER_STEPS}),
        Step("03_pretrain", {"steps": 300, "teacher_steps": QUICK_TEACHER_STEPS,
                             "eval_blocks": 64, "checkpoint_every": 100,
                             "compare_inits": False},
             {"fptas_dir": "02_fptas"}),
        Step("04_finetune", {"train_size": 500, "eval_size": 300, "theta_preset": "smoke",
                             "compare_preset": "smoke", "epochs": 2},
             {"pretrained_dir": "03_pretrain"}),
        # 05: 03's student is the learner, 04's MiniLM the labeller (through their records);
        # 2 θ's of 150 steps, a 5,000-sentence pool (embedded once, ~1 minute), the control.
        Step("05_agora", {"train_size": 300, "n_thetas": 2, "student_steps": 150,
                          "pool_size": 5000, "teacher_steps": QUICK_TEACHER_STEPS},
             {"pretrained_dir": "03_pretrain", "finetune_dir": "04_finetune"}),
    ),
    # The notebooks' own defaults.
    "full": (
        Step("01_profile", {}),
        Step("02_fptas", {}),
        Step("03_pretrain", {}, {"fptas_dir": "02_fptas"}),
        Step("04_finetune", {}, {"pretrained_dir": "03_pretrain"}),
        Step("05_agora", {}, {"pretrained_dir": "03_pretrain", "finetune_dir": "04_finetune"}),
    ),
    # Every notebook with smoke=True: a minute or two, for checking the plumbing.
    "smoke": (
        Step("01_profile", {"smoke": True}),
        Step("02_fptas", {"smoke": True}),
        Step("03_pretrain", {"smoke": True}, {"fptas_dir": "02_fptas"}),
        Step("04_finetune", {"smoke": True}, {"pretrained_dir": "03_pretrain"}),
        Step("05_agora", {"smoke": True},
             {"pretrained_dir": "03_pretrain", "finetune_dir": "04_finetune"}),
    ),
}


@dataclass(frozen=True)
class NotebookRun(Record):
    """The outcome of one executed notebook (written to `<output_dir>/run.json`)."""

    file_name = "run.json"

    notebook: str
    output_dir: str
    executed: str
    parameters: dict[str, Any]
    seconds: float
    ok: bool
    error: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class PipelineResult(Record):
    """One pipeline run: its folder, profile, and each notebook's outcome (`pipeline.json`)."""

    file_name = "pipeline.json"
    run_dir: str
    profile: str
    runs: tuple[NotebookRun, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)


def resolve_notebook(name: str | Path) -> Path:
    """A notebook path from a stem (``02_fptas``), a file name, or a path."""
    path = Path(name)
    candidates = [path, NOTEBOOK_DIR / path, NOTEBOOK_DIR / f"{path}.ipynb"]
    for cand in candidates:
        if cand.suffix == ".ipynb" and cand.is_file():
            return cand.resolve()
    valid = ", ".join(p.stem for p in sorted(NOTEBOOK_DIR.glob("*.ipynb")))
    raise FileNotFoundError(f"no notebook {str(name)!r}; notebooks: {valid}")


def coerce_parameter(path: Path, name: str, value: str) -> Any:
    """Convert a command-line string to the type the notebook's parameters cell declares, and
    check it by the notebook's rule (`bortkit.run.params`): ``name=value: why`` on failure."""
    import papermill

    declared = papermill.inspect_notebook(str(path))
    if name not in declared:
        raise ValueError(
            f"notebook {path.stem} has no parameter {name!r}; parameters: {', '.join(declared)}"
        )
    kind = (declared[name].get("inferred_type_name") or "").lower()
    converted: Any = value
    try:
        if kind == "bool":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            converted = value.lower() in ("true", "1")
        elif kind == "int":
            converted = int(value)
        elif kind == "float":
            converted = float(value)
    except ValueError:
        raise ValueError(
            f"{name}={value!r}: {path.stem} declares it {kind}; cannot read it as one"
        ) from None
    return check_parameter(path.stem, name, converted)


def device_parameter(notebook: str | Path, device: str = "auto") -> dict[str, str]:
    """``{"device": device}`` for a notebook whose parameters cell declares `device`, else {}.

    A notebook without the parameter (00_tour) runs as it is when `device` is "auto"; asking it
    for "cpu" or "cuda" is a `ValueError` (it would be ignored silently otherwise).
    """
    import papermill

    path = resolve_notebook(notebook)
    if "device" in papermill.inspect_notebook(str(path)):
        return {"device": check_parameter(path.stem, "device", device)}
    if device != "auto":
        raise ValueError(f"device={device!r}: notebook {path.stem} has no device parameter")
    return {}


def check_parameter(notebook: str, name: str, value: Any) -> Any:
    """`value` checked by the rule of `notebook`'s parameter `name` (unchanged when the
    notebook or the name has no rule, e.g. a test's own notebook)."""
    rule = params.NOTEBOOK_PARAMS.get(notebook, {}).get(name)
    if rule is not None:
        params.check_value(name, value, rule)
    return value


def run_notebook(
    notebook: str | Path,
    *,
    output_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    executed_path: str | Path | None = None,
    progress: bool = True,
) -> NotebookRun:
    """Execute one notebook with papermill; its artifacts go to `output_dir`.

    The executed copy is written to `executed_path` (default `<output_dir>/<name>.ipynb`).
    A failing cell does not raise: the record says `ok=False` and names the error, and the
    partially executed notebook is kept for inspection.
    """
    import papermill

    path = resolve_notebook(notebook)
    out = artifacts.run_dir(output_dir).resolve()
    params = {**dict(parameters or {}), "output_dir": str(out)}
    executed = Path(executed_path) if executed_path else out / path.name
    start = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(path),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=progress,
        )
    except papermill.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    seconds = time.perf_counter() - start
    run = NotebookRun(path.stem, str(out), str(executed), params, seconds, not error, error)
    run.save(out)
    return run


def _previous_run(out: Path) -> NotebookRun | None:
    """The step's earlier `run.json`, or None when absent or unreadable (then it runs again)."""
    if not (out / NotebookRun.file_name).is_file():
        return None
    try:
        return NotebookRun.load(out)
    except ValueError as exc:
        logger.warning("rerunning %s: %s", out.name, exc)
        return None


def run_pipeline(
    profile: str = "quick",
    *,
    runs_root: str | Path = "runs",
    stamp: str | None = None,
    only: tuple[str, ...] | None = None,
    progress: bool = True,
    on_step: Callable[[int, int, Step], None] | None = None,
    device: str = "auto",
) -> PipelineResult:
    """Run a profile's notebooks in order into `runs_root/<stamp>/`, then write the index.

    Resumable: with the `stamp` of an earlier run, steps whose `run.json` says ok are skipped.
    Stops at the first failing step (later steps depend on it) and still writes the index.
    `device` ("auto", "cpu", "cuda") goes to every notebook that declares a `device`
    parameter (a step's own `device` parameter wins).
    """
    params.check_value("device", device, params.Param(str, params.device))
    if profile not in PROFILES:
        raise ValueError(f"unknown pipeline profile {profile!r}; profiles: {', '.join(PROFILES)}")
    steps = [s for s in PROFILES[profile] if only is None or s.notebook in only]
    if not steps:
        raise ValueError(f"no step of profile {profile!r} matches only={only}")
    for step in steps:  # every fixed parameter checked before the first notebook starts
        for name, value in step.parameters.items():
            check_parameter(step.notebook, name, value)
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    root = artifacts.run_dir(Path(runs_root) / stamp).resolve()
    start = time.perf_counter()
    runs: list[NotebookRun] = []
    for k, step in enumerate(steps):
        out = root / step.notebook
        previous = _previous_run(out)
        if previous is not None and previous.ok:
            logger.info("skipping %s: already done in %s", step.notebook, out)
            runs.append(previous.replace(skipped=True))
            continue
        if on_step is not None:
            on_step(k, len(steps), step)
        takes_device = "device" in params.NOTEBOOK_PARAMS.get(step.notebook, {})
        values = {**({"device": device} if takes_device else {}), **step.parameters}
        for name, upstream in step.upstream.items():
            values[name] = str(root / upstream)
        run = run_notebook(step.notebook, output_dir=out, parameters=values, progress=progress)
        runs.append(run)
        if not run.ok:
            logger.error("%s failed: %s", step.notebook, run.error)
            break
    result = PipelineResult(str(root), profile, tuple(runs), time.perf_counter() - start)
    result.save(root)
    report.write_index(root)
    return result


__all__ = [
    "PROFILES",
    "NotebookRun",
    "PipelineResult",
    "Step",
    "check_parameter",
    "coerce_parameter",
    "device_parameter",
    "resolve_notebook",
    "run_notebook",
    "run_pipeline",
]
