"""Many fine-tuning runs: one per θ ∈ Θ (`run_grid`), and models compared on one task (`compare`).

`run_grid` tokenizes the task once and calls `bortkit.finetune.engine.finetune` per θ, keeping
(with an `output_dir`) only the best θ's exported model; `compare` tunes several models over the
same Θ (a fair comparison) and keeps each one's best run in ``<output_dir>/<name>``, with its
``finetune_result.json`` beside it (`FinetuneResult.load(<output_dir>/<name>)`).
`comparison_sources` names the three models notebook 04 compares.

Both resume after a crash or kill -9 when given an `output_dir`: each θ's record is written
atomically to ``<output_dir>/<θ label>.json`` as soon as its run ends, and a rerun skips every θ
whose record matches this run (same θ, task size, labels, epochs and metric); a truncated or
foreign record is reported in one log line and that θ is redone. `compare` likewise keeps each
model's finished best run.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from bortkit.arch import ArchSpec
from bortkit.finetune.classifier import ModelSource, arch_of, quiet_progress, resolve_checkpoint
from bortkit.finetune.engine import encode, finetune, task_labels, tokenizer_for
from bortkit.finetune.records import FinetuneConfig, FinetuneResult
from bortkit.pretrain.teacher import minilm_dir
from bortkit.records import check_choice
from bortkit.theta import Theta

logger = logging.getLogger(__name__)


def _matches(result: FinetuneResult, *, config: FinetuneConfig, data: Any,
             thetas: Sequence[Theta]) -> str:
    """Why `result` is not a finished run of one of `thetas` on `data` ("" when it is)."""
    if result.theta not in thetas:
        return f"θ {result.theta.label} is not in this Θ"
    if result.train_size != len(data["train"]) or result.epochs != config.epochs:
        return (f"it ran {result.epochs} epochs on {result.train_size} examples, not "
                f"{config.epochs} on {len(data['train'])}")
    if result.metric != config.metric or tuple(result.label_names) != task_labels(data):
        return "its metric or labels differ"
    return ""


def _finished(path: Path, *, config: FinetuneConfig, data: Any, thetas: Sequence[Theta],
              check_model: bool = True) -> FinetuneResult | None:
    """The finished run recorded at `path`, or None (absent, damaged or foreign: then redone,
    with one log line saying why). `check_model`: a recorded model folder must exist."""
    if not path.is_file():
        return None
    try:
        result = FinetuneResult.load(path)
    except ValueError as exc:
        logger.warning("redoing %s: %s", path.name, exc)
        return None
    why = _matches(result, config=config, data=data, thetas=thetas)
    if (not why and check_model and result.model_dir is not None
            and not Path(result.model_dir).is_dir()):
        why = f"its model folder {result.model_dir} is gone"
    if why:
        logger.warning("redoing %s: a record of another run (%s)", path, why)
        return None
    return result


def run_grid(
    model_source: ModelSource,
    data: Any,
    thetas: Sequence[Theta],
    *,
    config: FinetuneConfig = FinetuneConfig(),
    output_dir: str | os.PathLike[str] | None = None,
    keep: str = "best",
    tokenizer: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> list[FinetuneResult]:
    """Fine-tune one model per θ in `thetas` (same data, tokenized once); one result per θ.

    Args:
        model_source, data, config, tokenizer, name: as for `finetune`.
        thetas: the hyperparameter sets, in order.
        output_dir: export models to ``<output_dir>/<theta.label>`` and each θ's record to
            ``<output_dir>/<theta.label>.json``; a rerun skips the θ's recorded there (see the
            module docstring). None: no export, no resume.
        keep: with `output_dir`, "best" deletes all but the best θ's model (by validation
            `metric`), "all" keeps every model.
        progress: one bar over θ (the per-run Trainer bars stay off).
    """
    from tqdm.auto import tqdm

    thetas = tuple(thetas)
    if not thetas or not all(isinstance(t, Theta) for t in thetas):
        raise ValueError("thetas must be a non-empty sequence of Theta")
    check_choice("keep", keep, ("best", "all"))
    task_labels(data)
    tokenizer = tokenizer or tokenizer_for(model_source)
    if "input_ids" not in data["train"].column_names:
        with quiet_progress(progress):
            data = encode(data, tokenizer, max_length=config.max_length)
    results: list[FinetuneResult] = []
    bar = tqdm(thetas, desc=f"Θ {name or ''}".strip(), disable=not progress)
    for theta in bar:
        sub = record = None
        if output_dir is not None:
            sub, record = Path(output_dir) / theta.label, Path(output_dir) / f"{theta.label}.json"
            done = _finished(record, config=config, data=data, thetas=thetas)
            if done is not None and done.theta == theta:
                logger.info("θ %s: finished in an earlier run (%s); skipped", theta.label, record)
                results.append(done)
                continue
        result = finetune(model_source, data, theta=theta, config=config, tokenizer=tokenizer,
                          name=name, output_dir=sub, progress=False)
        if record is not None:
            result.save(record)  # atomic: a rerun skips this θ from now on
        results.append(result)
        bar.set_postfix(best=max(r.val.get(results[0].metric) for r in results))
    if output_dir is not None and keep == "best":
        best = best_result(results)
        for i, r in enumerate(results):
            if r is not best and r.model_dir:
                # record first, then delete: a kill in between leaves an orphan folder, never a
                # record pointing at a deleted model
                results[i] = r.replace(model_dir=None)
                results[i].save(Path(output_dir) / f"{r.theta.label}.json")
                shutil.rmtree(r.model_dir, ignore_errors=True)
    return results


def comparison_sources(pretrained_dir: str | os.PathLike[str] | None, *,
                       fallback_spec: ArchSpec, minilm: bool = True) -> dict[str, ModelSource]:
    """The models notebook 04 compares, by name: "pretrained-student" (notebook 03's export,
    when `pretrained_dir` holds one), "random-init" (the same shape from random weights, or
    `fallback_spec` when there is no student) and "minilm" (the shipped checkpoint)."""
    sources: dict[str, ModelSource] = {}
    student = resolve_checkpoint(pretrained_dir)
    if student is not None:
        sources["pretrained-student"] = student
    else:
        logger.info("no pretrained student in %s; comparing without it", pretrained_dir)
    sources["random-init"] = arch_of(student) if student is not None else fallback_spec
    if minilm:
        sources["minilm"] = minilm_dir()
    return sources


def compare(
    sources: dict[str, ModelSource],
    data: Any,
    *,
    thetas: Sequence[Theta],
    config: FinetuneConfig = FinetuneConfig(),
    output_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, FinetuneResult]:
    """Fine-tune every source over `thetas` and keep each one's best θ (by validation).

    Args:
        sources: name -> checkpoint folder or `ArchSpec` (e.g. `comparison_sources`).
        data: a task `DatasetDict`.
        thetas: the Θ each model is tuned over (the same for all: a fair comparison).
        config: the run settings shared by every model and θ.
        output_dir: export each model's best run to ``<output_dir>/<name>``.
        progress: a bar over θ per model.
    """
    if not sources:
        raise ValueError("sources is empty")
    thetas = tuple(thetas)
    best: dict[str, FinetuneResult] = {}
    for name, source in sources.items():
        sub = None if output_dir is None else Path(output_dir) / f".grid-{name}"
        if output_dir is not None:
            target = (Path(output_dir) / name).resolve()
            # the folder holds the model, so its record's model_dir may still name the grid
            done = _finished(target / FinetuneResult.file_name, config=config, data=data,
                             thetas=thetas, check_model=False) if (
                target / "config.json").is_file() else None
            if done is not None and done.source == name:
                logger.info("%s: its best run finished earlier (%s); skipped", name, target)
                best[name] = done.replace(model_dir=str(target))
                if done.model_dir != str(target):  # killed between the move and the save
                    best[name].save(target)
                shutil.rmtree(sub, ignore_errors=True)
                continue
        results = run_grid(source, data, thetas, config=config, output_dir=sub, keep="best",
                           name=name, progress=progress)
        winner = best_result(results)
        if sub is not None and winner.model_dir is not None:
            target = (Path(output_dir) / name).resolve()  # absolute, as `export` writes
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(winner.model_dir, target)
            winner = winner.replace(model_dir=str(target))
            winner.save(target)  # the moved folder's record points at its new place
            shutil.rmtree(sub, ignore_errors=True)
        best[name] = winner
    return best


def best_result(results: Sequence[FinetuneResult]) -> FinetuneResult:
    """The result with the highest validation score (its own `metric`; first one on ties)."""
    if not results:
        raise ValueError("results is empty")
    return max(results, key=lambda r: r.val.get(r.metric))


def results_frame(results: Sequence[FinetuneResult]) -> Any:
    """A pandas DataFrame with one `FinetuneResult.to_row()` per result."""
    import pandas as pd

    return pd.DataFrame([r.to_row() for r in results])


__all__ = [
    "best_result",
    "compare",
    "comparison_sources",
    "results_frame",
    "run_grid",
]
