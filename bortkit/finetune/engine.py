"""Fine-tuning on classification tasks with Bort's head, hyperparameter sets Θ, and prediction.

`finetune(model_source, data, theta=...)` trains one sequence classifier on a `bortkit.data.tasks`
task (a `datasets.DatasetDict` with train/validation[/test] splits, columns "text", "label" and
optional "text_pair"), evaluates on validation after every epoch, keeps the best epoch's weights
(in memory), stops early after `patience` epochs without improvement, scores the test split
with the best weights and returns a frozen `FinetuneResult`. `run_grid` does that once per
θ ∈ Θ; `predict` labels new texts with an exported model (Agora's labeller). The Θ records and
presets live in `bortkit.theta`, model loading and export in `bortkit.finetune.classifier`; both are
re-exported here (`Theta`, `finetune.load_classifier`, ... keep working).

Paper ties (alexa/bort `finetune_bort.py`, see reference/bort-papers.md §5.3):
- Head: dropout → dense(H, tanh) on the first token → dropout → linear. HF
  `BertForSequenceClassification` is pooler(dense+tanh on [CLS]) → dropout → linear, i.e. it
  lacks the first dropout; `add_head_dropout` adds it as a forward pre-hook on the pooler, so
  parameter names stay HF's and an export reloads with `AutoModelForSequenceClassification`
  (identical outputs in eval mode, where dropout is the identity).
- Optimiser: AdamW with decoupled weight decay multiplied by the learning rate (BERTAdam's
  rule), ε = 1e-6, no decay on biases/LayerNorm, global gradient-norm clip 1, linear warm-up
  over `warmup_ratio` of the steps then linear decay (project choice: to 0, Bort floors at
  1e-7; warm-up is over all epochs, Bort's `ramp_up_epochs` is 1).
- Best epoch chosen on the validation metric; early-stopping patience counted in evaluations.
- Project choices: the head keeps HF's N(0, 0.02) initialisation (Bort: U(−0.5, 0.5));
  checkpoints without pooler weights (students from notebook 03, MLM checkpoints) get a freshly
  initialised pooler; the tokenizer is the teacher's WordPiece (bortkit.pretrain.teacher).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from bortkit.arch import ArchSpec
from bortkit.finetune.classifier import (  # re-export
    ModelSource,
    add_head_dropout,
    arch_of,
    export,
    load_classifier,
    resolve_checkpoint,
)
from bortkit.finetune.metrics import METRIC_NAMES, Metrics, classification_metrics
from bortkit.theta import THETA_PRESETS, Theta, make_grid, theta_grid  # re-export

logger = logging.getLogger(__name__)

RESULT_NAME = "finetune_result.json"  # written beside an exported model


# ---------------------------------------------------------------------------------------------
# Records.
@dataclass(frozen=True)
class EpochPoint:
    """One evaluation on validation: after `epoch` epochs (`step` optimiser steps)."""

    epoch: int
    step: int
    train_loss: float
    val: Metrics

    def to_dict(self) -> dict[str, Any]:
        loss = None if math.isnan(self.train_loss) else self.train_loss
        return {"epoch": self.epoch, "step": self.step, "train_loss": loss,
                "val": self.val.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochPoint:
        loss = data.get("train_loss")
        return cls(int(data["epoch"]), int(data["step"]),
                   math.nan if loss is None else float(loss), Metrics.from_dict(data["val"]))


@dataclass(frozen=True)
class FinetuneResult:
    """The outcome of fine-tuning one model with one θ.

    Args:
        source: what was fine-tuned (checkpoint path, or ``"random:<spec label>"``), or a name.
        theta: the hyperparameter set.
        best_epoch: epoch whose weights were kept (validation `metric` best).
        metric: the validation metric used for selection.
        val: validation scores of the kept weights.
        test: test scores of the kept weights (None when the data has no test split).
        curve: one point per evaluation, in order.
        seconds: wall time of training and evaluation.
        train_size: number of training examples.
        epochs: epochs asked for.
        epochs_run: epochs actually trained (fewer than `epochs` after early stopping).
        label_names: class names, index = class id.
        val_predictions: predicted class per validation example, of the kept weights.
        model_dir: where the kept model was exported, or None.
    """

    source: str
    theta: Theta
    best_epoch: int
    metric: str
    val: Metrics
    test: Metrics | None
    curve: tuple[EpochPoint, ...]
    seconds: float
    train_size: int
    epochs: int
    epochs_run: int
    label_names: tuple[str, ...]
    val_predictions: tuple[int, ...]
    model_dir: str | None = None

    @property
    def stopped_early(self) -> bool:
        return self.epochs_run < self.epochs

    def series(self, metric: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(steps, values) of a curve metric: "train_loss", or "val_" + accuracy / macro_f1 /
        mcc / loss (the interface of `bortkit.plots.training.training_figure`)."""
        if metric == "train_loss":
            values = tuple(p.train_loss for p in self.curve)
        elif metric.startswith("val_") and metric[4:] in (*METRIC_NAMES, "loss"):
            values = tuple(p.val.get(metric[4:]) for p in self.curve)
        else:
            raise ValueError(f"unknown curve metric {metric!r}; valid: train_loss, "
                             f"{', '.join('val_' + m for m in (*METRIC_NAMES, 'loss'))}")
        return tuple(p.step for p in self.curve), values

    def to_row(self) -> dict[str, Any]:
        """A flat row for tables: source, θ fields, selection, val/test scores, time."""
        row: dict[str, Any] = {"source": self.source, "theta": self.theta.label,
                               **self.theta.to_dict(), "best_epoch": self.best_epoch,
                               "epochs_run": self.epochs_run, "train_size": self.train_size}
        for split, m in (("val", self.val), ("test", self.test)):
            for name in METRIC_NAMES:
                row[f"{split}_{name}"] = None if m is None else m.get(name)
        row["seconds"] = self.seconds
        return row

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "theta": self.theta.to_dict(), "best_epoch": self.best_epoch,
            "metric": self.metric, "val": self.val.to_dict(),
            "test": None if self.test is None else self.test.to_dict(),
            "curve": [p.to_dict() for p in self.curve], "seconds": self.seconds,
            "train_size": self.train_size, "epochs": self.epochs,
            "epochs_run": self.epochs_run, "label_names": list(self.label_names),
            "val_predictions": list(self.val_predictions), "model_dir": self.model_dir,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneResult:
        return cls(
            source=data["source"], theta=Theta.from_dict(data["theta"]),
            best_epoch=int(data["best_epoch"]), metric=data["metric"],
            val=Metrics.from_dict(data["val"]),
            test=None if data.get("test") is None else Metrics.from_dict(data["test"]),
            curve=tuple(EpochPoint.from_dict(p) for p in data["curve"]),
            seconds=float(data["seconds"]), train_size=int(data["train_size"]),
            epochs=int(data["epochs"]), epochs_run=int(data["epochs_run"]),
            label_names=tuple(data["label_names"]),
            val_predictions=tuple(int(v) for v in data["val_predictions"]),
            model_dir=data.get("model_dir"),
        )


@dataclass(frozen=True)
class Predictions:
    """Class predictions for a list of texts: `labels[i]` = argmax of `probs[i]`."""

    labels: tuple[int, ...]
    probs: tuple[tuple[float, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "probs": [list(p) for p in self.probs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Predictions:
        return cls(tuple(int(v) for v in data["labels"]),
                   tuple(tuple(float(v) for v in p) for p in data["probs"]))


# ---------------------------------------------------------------------------------------------
# Data checks and encoding.
def task_labels(data: Any, *, num_labels: int | None = None) -> tuple[str, ...]:
    """Validate a task `DatasetDict` and return its class names (index = class id).

    Raises:
        ValueError: missing train/validation split or "text"/"label" column, labels outside
            [0, n_labels), or `num_labels` disagreeing with the data's ClassLabel.
    """
    from datasets import ClassLabel

    for split in ("train", "validation"):
        if split not in data:
            raise ValueError(f"data must have a {split!r} split, got splits {list(data)}")
    for split in data:
        columns = set(data[split].column_names)
        missing = ({"label"} | ({"text"} if "input_ids" not in columns else set())) - columns
        if missing:
            raise ValueError(f"data[{split!r}] lacks column(s) {sorted(missing)}")
    feature = data["train"].features["label"]
    if isinstance(feature, ClassLabel):
        names = tuple(feature.names)
        if num_labels is not None and num_labels != len(names):
            raise ValueError(f"num_labels={num_labels} but the data's ClassLabel has "
                             f"{len(names)} classes {list(names)}")
    else:
        n = num_labels if num_labels is not None else 1 + max(
            max(data[s]["label"], default=0) for s in data)
        names = tuple(str(i) for i in range(n))
    if len(names) < 2:
        raise ValueError(f"a classification task needs >= 2 labels, got {len(names)}")
    for split in data:
        labels = data[split]["label"]
        bad = [v for v in labels if not (isinstance(v, int) and 0 <= v < len(names))]
        if bad:
            raise ValueError(f"data[{split!r}] has label {bad[0]!r} outside [0, {len(names)}) "
                             f"(num_labels={len(names)})")
    return names


def encode(data: Any, tokenizer: Any, *, max_length: int) -> Any:
    """Tokenize every split once (truncation to `max_length`, no padding: batches pad)."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 8:
        raise ValueError(f"max_length must be an int >= 8, got {max_length!r}")
    has_pair = "text_pair" in data["train"].column_names

    def tok(batch: dict[str, list]) -> dict[str, list]:
        pair = batch["text_pair"] if has_pair else None
        return tokenizer(batch["text"], pair, truncation=True, max_length=max_length)

    keep = {"label"}
    return data.map(tok, batched=True, desc="tokenize",
                    remove_columns=[c for c in data["train"].column_names if c not in keep])


def _load_tokenizer(model_source: ModelSource) -> Any:
    """The checkpoint's own tokenizer when it saved one, else the teacher's WordPiece."""
    from bortkit.pretrain import teacher

    if not isinstance(model_source, ArchSpec):
        path = Path(model_source)
        if (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file():
            return teacher.load_tokenizer(path)
    return teacher.load_tokenizer()


@contextlib.contextmanager
def quiet_progress(progress: bool) -> Iterator[None]:
    """Hide datasets' and transformers' own progress bars (map, weight loading, shard writing)
    while `progress` is False; restores the previous state afterwards."""
    import datasets.utils as ds_utils
    from transformers.utils import logging as hf_logging

    if progress:
        yield
        return
    ds_was_on = not ds_utils.are_progress_bars_disabled()
    hf_was_on = hf_logging.is_progress_bar_enabled()
    ds_utils.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if ds_was_on:
            ds_utils.enable_progress_bars()
        if hf_was_on:
            hf_logging.enable_progress_bar()


def _source_name(model_source: ModelSource) -> str:
    if isinstance(model_source, ArchSpec):
        return f"random:{model_source.label}"
    return str(model_source)


# ---------------------------------------------------------------------------------------------
# Training.
def finetune(
    model_source: ModelSource,
    data: Any,
    *,
    theta: Theta = Theta(),
    epochs: int = 3,
    max_length: int = 64,
    patience: int | None = 2,
    metric: str = "accuracy",
    output_dir: str | os.PathLike[str] | None = None,
    tokenizer: Any = None,
    name: str | None = None,
    eval_batch_size: int = 64,
    threads: int | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune one classifier with hyperparameters `theta` and score it on validation and test.

    Args:
        model_source: checkpoint folder or `ArchSpec` (random init), see `load_classifier`.
        data: a task `DatasetDict` (raw "text"/"label", or already `encode`d).
        theta: the hyperparameter set.
        epochs: maximum number of epochs.
        max_length: truncation length in tokens (ignored if `data` is already encoded).
        patience: stop after this many evaluations without improvement (None: never).
        metric: validation metric for best-epoch selection and early stopping.
        output_dir: export the kept model (+ tokenizer + result JSON) here; None: no export.
        tokenizer: defaults to the checkpoint's own, else the teacher's WordPiece.
        name: `FinetuneResult.source` (defaults to the path or ``"random:<spec>"``).
        eval_batch_size: batch size for evaluation.
        threads: torch intra-op threads during this call (None: leave as is). On a busy
            shared machine, 1 thread avoids oversubscription that slows small models ~5×.
        progress: show the Trainer's progress bar.

    Returns:
        A `FinetuneResult`; `model_dir` is set when `output_dir` was given.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
    with quiet_progress(progress), _torch_threads(threads):
        return _finetune(model_source, data, theta=theta, epochs=epochs, max_length=max_length,
                         patience=patience, metric=metric, output_dir=output_dir,
                         tokenizer=tokenizer, name=name, eval_batch_size=eval_batch_size,
                         progress=progress)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _finetune(model_source: ModelSource, data: Any, *, theta: Theta, epochs: int,
              max_length: int, patience: int | None, metric: str,
              output_dir: str | os.PathLike[str] | None, tokenizer: Any, name: str | None,
              eval_batch_size: int, progress: bool) -> FinetuneResult:
    import numpy as np
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers import set_seed as hf_set_seed
    from transformers.trainer_callback import PrinterCallback

    if not isinstance(theta, Theta):
        raise TypeError(f"theta must be a Theta, got {type(theta).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {METRIC_NAMES}, got {metric!r}")
    label_names = task_labels(data)
    n_labels = len(label_names)
    tokenizer = tokenizer if tokenizer is not None else _load_tokenizer(model_source)
    if "input_ids" not in data["train"].column_names:
        data = encode(data, tokenizer, max_length=max_length)
    longest = max(max(map(len, data[split]["input_ids"]), default=0) for split in data)

    hf_set_seed(theta.seed)  # the head (and random-init weights) depend on θ's seed
    model = load_classifier(model_source, label_names=label_names)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model's vocab_size is "
                         f"{model.config.vocab_size}")
    if longest > model.config.max_position_embeddings:
        raise ValueError(f"inputs reach {longest} tokens but the model has only "
                         f"{model.config.max_position_embeddings} positions; lower max_length")
    tracker = _make_tracker(metric=metric, patience=patience, n_labels=n_labels)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bortkit-ft-") as tmp:
        args = TrainingArguments(
            output_dir=tmp, use_cpu=True, report_to=[], save_strategy="no",
            eval_strategy="epoch", logging_strategy="epoch", num_train_epochs=epochs,
            per_device_train_batch_size=theta.batch_size,
            per_device_eval_batch_size=eval_batch_size, learning_rate=theta.lr,
            weight_decay=theta.weight_decay, warmup_steps=theta.warmup_ratio,
            lr_scheduler_type="linear", adam_epsilon=1e-6, max_grad_norm=1.0, seed=theta.seed,
            dataloader_num_workers=0, disable_tqdm=not progress,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
            data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=tracker.compute,
            callbacks=[tracker],
        )
        trainer.remove_callback(PrinterCallback)  # the library never prints
        trainer.train()
        model.load_state_dict(tracker.best_state)  # best-epoch selection
        test = None
        if "test" in data:
            out = trainer.predict(data["test"], metric_key_prefix="test")
            logits = np.asarray(out.predictions)  # (n_test, n_labels)
            test = classification_metrics(out.label_ids, logits.argmax(-1), n_labels=n_labels,
                                          loss=(out.metrics or {}).get("test_loss", math.nan))
    seconds = time.perf_counter() - start
    result = FinetuneResult(
        source=name or _source_name(model_source), theta=theta, best_epoch=tracker.best_epoch,
        metric=metric, val=tracker.best_val, test=test, curve=tuple(tracker.curve),
        seconds=seconds, train_size=len(data["train"]), epochs=epochs,
        epochs_run=tracker.curve[-1].epoch,
        label_names=label_names, val_predictions=tracker.best_predictions,
    )
    if output_dir is not None:
        result = dataclasses.replace(result, model_dir=str(export(model, tokenizer, output_dir)))
        from bortkit.records import save_json

        save_json(Path(output_dir) / RESULT_NAME, result)
    return result


def _make_tracker(*, metric: str, patience: int | None, n_labels: int) -> Any:
    """A Trainer callback that is also `compute_metrics` (class built lazily: no top-level
    transformers import)."""
    from transformers import TrainerCallback

    class Tracker(_TrackerMixin, TrainerCallback):
        pass

    return Tracker(metric=metric, patience=patience, n_labels=n_labels)


class _TrackerMixin:
    """Records the curve, keeps the best epoch's weights in memory, and stops early."""

    def __init__(self, *, metric: str, patience: int | None, n_labels: int) -> None:
        self.metric, self.patience, self.n_labels = metric, patience, n_labels
        self.curve: list[EpochPoint] = []
        self.best_state: dict[str, Any] | None = None
        self.best_val: Metrics | None = None
        self.best_epoch = 0
        self.best_predictions: tuple[int, ...] = ()
        self._train_loss = math.nan
        self._last: tuple[Metrics, tuple[int, ...]] | None = None
        self._bad = 0

    def compute(self, eval_pred: Any) -> dict[str, float]:
        preds = eval_pred.predictions.argmax(-1)
        m = classification_metrics(eval_pred.label_ids, preds, n_labels=self.n_labels)
        self._last = (m, tuple(int(v) for v in preds))
        return {name: m.get(name) for name in METRIC_NAMES}

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
               **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self._train_loss = float(logs["loss"])

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                    model: Any = None, **kwargs: Any) -> None:
        if self._last is None or metrics is None or "eval_loss" not in metrics:
            return  # not a validation pass of ours (e.g. the final test predict)
        m, preds = self._last
        self._last = None
        m = dataclasses.replace(m, loss=float(metrics["eval_loss"]))
        epoch = int(round(state.epoch or 0))
        self.curve.append(EpochPoint(epoch, int(state.global_step), self._train_loss, m))
        if self.best_val is None or m.get(self.metric) > self.best_val.get(self.metric):
            self.best_val, self.best_epoch, self.best_predictions = m, epoch, preds
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self._bad = 0
        else:
            self._bad += 1
            if self.patience is not None and self._bad >= self.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, self.best_epoch)
                control.should_training_stop = True


def run_grid(
    model_source: ModelSource,
    data: Any,
    thetas: Sequence[Theta],
    *,
    output_dir: str | os.PathLike[str] | None = None,
    keep: str = "best",
    progress: bool = True,
    **kwargs: Any,
) -> list[FinetuneResult]:
    """Fine-tune one model per θ in `thetas` (same data, tokenized once); one result per θ.

    Args:
        model_source, data: as for `finetune`.
        thetas: the hyperparameter sets, in order.
        output_dir: export models to ``<output_dir>/<theta.label>``; None: no export.
        keep: with `output_dir`, "best" deletes all but the best θ's model (by validation
            `metric`), "all" keeps every model.
        progress: one bar over θ (the per-run Trainer bars stay off).
        **kwargs: passed to `finetune` (epochs, max_length, patience, metric, tokenizer, name...).
    """
    import shutil

    from tqdm.auto import tqdm

    thetas = tuple(thetas)
    if not thetas or not all(isinstance(t, Theta) for t in thetas):
        raise ValueError("thetas must be a non-empty sequence of Theta")
    if keep not in ("best", "all"):
        raise ValueError(f"keep must be 'best' or 'all', got {keep!r}")
    task_labels(data)
    tokenizer = kwargs.pop("tokenizer", None) or _load_tokenizer(model_source)
    if "input_ids" not in data["train"].column_names:
        with quiet_progress(progress):
            data = encode(data, tokenizer, max_length=kwargs.get("max_length", 64))
    results: list[FinetuneResult] = []
    bar = tqdm(thetas, desc=f"Θ {kwargs.get('name') or ''}".strip(), disable=not progress)
    for theta in bar:
        sub = None if output_dir is None else Path(output_dir) / theta.label
        results.append(finetune(model_source, data, theta=theta, tokenizer=tokenizer,
                                output_dir=sub, progress=False, **kwargs))
        bar.set_postfix(best=max(r.val.get(results[0].metric) for r in results))
    if output_dir is not None and keep == "best":
        best = best_result(results)
        for i, r in enumerate(results):
            if r is not best and r.model_dir:
                shutil.rmtree(r.model_dir, ignore_errors=True)
                results[i] = dataclasses.replace(r, model_dir=None)
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
        from bortkit.pretrain.teacher import minilm_dir

        sources["minilm"] = minilm_dir()
    return sources


def compare(
    sources: dict[str, ModelSource],
    data: Any,
    *,
    thetas: Sequence[Theta],
    output_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> dict[str, FinetuneResult]:
    """Fine-tune every source over `thetas` and keep each one's best θ (by validation).

    Args:
        sources: name -> checkpoint folder or `ArchSpec` (e.g. `comparison_sources`).
        data: a task `DatasetDict`.
        thetas: the Θ each model is tuned over (the same for all: a fair comparison).
        output_dir: export each model's best run to ``<output_dir>/<name>``.
        progress: a bar over θ per model.
        **kwargs: passed to `finetune` (epochs, max_length, patience, metric...).
    """
    import shutil

    if not sources:
        raise ValueError("sources is empty")
    best: dict[str, FinetuneResult] = {}
    for name, source in sources.items():
        sub = None if output_dir is None else Path(output_dir) / f".grid-{name}"
        results = run_grid(source, data, thetas, output_dir=sub, keep="best", name=name,
                           progress=progress, **kwargs)
        winner = best_result(results)
        if output_dir is not None and sub is not None and winner.model_dir is not None:
            target = Path(output_dir) / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(winner.model_dir, target)
            shutil.rmtree(sub, ignore_errors=True)
            winner = dataclasses.replace(winner, model_dir=str(target))
            from bortkit.records import save_json

            save_json(target / RESULT_NAME, winner)
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


def load_result(model_dir: str | os.PathLike[str]) -> FinetuneResult:
    """The `FinetuneResult` saved beside an exported model."""
    with open(Path(model_dir) / RESULT_NAME, encoding="utf-8") as fh:
        return FinetuneResult.from_dict(json.load(fh))


# ---------------------------------------------------------------------------------------------
# Prediction.
def predict(
    model_or_dir: Any,
    texts: Sequence[str],
    *,
    text_pairs: Sequence[str] | None = None,
    batch_size: int = 64,
    max_length: int = 128,
    tokenizer: Any = None,
    progress: bool = False,
) -> Predictions:
    """Class probabilities and argmax labels for `texts` (e.g. Agora's labeller on new points).

    Args:
        model_or_dir: an exported folder (`AutoModelForSequenceClassification`) or a loaded model.
        texts: the inputs; `text_pairs` the optional second segments.
        batch_size: inference batch size.
        max_length: truncation length in tokens.
        tokenizer: required for a model object; for a folder, its saved tokenizer is used.
        progress: show a bar over batches (and the weight-loading bar).
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise ValueError(f"text_pairs has {len(text_pairs)} items, texts has {len(texts)}")
    if isinstance(model_or_dir, (str, os.PathLike)):
        with quiet_progress(progress):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_or_dir)
            model = AutoModelForSequenceClassification.from_pretrained(model_or_dir)
    else:
        if tokenizer is None:
            raise ValueError("tokenizer is required when model_or_dir is a model object")
        model = model_or_dir
    was_training = model.training
    model.eval()
    labels: list[int] = []
    probs: list[tuple[float, ...]] = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(texts), batch_size), desc="predict", disable=not progress):
            pair = None if text_pairs is None else list(text_pairs[i:i + batch_size])
            enc = tokenizer(list(texts[i:i + batch_size]), pair, truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
            p = model(**enc).logits.float().softmax(-1)  # (batch, n_labels)
            labels.extend(int(v) for v in p.argmax(-1))
            probs.extend(tuple(float(v) for v in row) for row in p)
    model.train(was_training)
    return Predictions(tuple(labels), tuple(probs))


__all__ = [
    "EpochPoint",
    "FinetuneResult",
    "Predictions",
    "RESULT_NAME",
    "THETA_PRESETS",
    "Theta",
    "add_head_dropout",
    "arch_of",
    "best_result",
    "compare",
    "comparison_sources",
    "encode",
    "export",
    "finetune",
    "load_classifier",
    "load_result",
    "make_grid",
    "predict",
    "quiet_progress",
    "resolve_checkpoint",
    "results_frame",
    "run_grid",
    "task_labels",
    "theta_grid",
]
