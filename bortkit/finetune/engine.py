"""One fine-tuning run: a classifier with Bort's head, one θ, best epoch kept, test scored.

`finetune(model_source, data, theta=..., config=...)` trains one sequence classifier on a
`bortkit.data.tasks` task (a `datasets.DatasetDict` with train/validation[/test] splits, columns
"text", "label" and optional "text_pair"), evaluates on validation after every epoch, keeps the
best epoch's weights (in memory), stops early after `patience` epochs without improvement,
scores the test split with the best weights and returns a frozen `FinetuneResult`. Grids over Θ
and model comparisons are in `bortkit.finetune.compare`; model loading and prediction in
`bortkit.finetune.classifier`; the records in `bortkit.finetune.records`.

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
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from bortkit.arch import ArchSpec, count_params
from bortkit.finetune.classifier import (
    ModelSource,
    arch_of,
    load_classifier,
    quiet_progress,
    resolve_checkpoint,
)
from bortkit.finetune.metrics import METRIC_NAMES, Metrics, classification_metrics
from bortkit.finetune.records import EpochPoint, FinetuneConfig, FinetuneResult
from bortkit.pretrain import teacher
from bortkit.pretrain.export import export
from bortkit.records import check_int
from bortkit.theta import Theta
from bortkit.utils import resolve_device

logger = logging.getLogger(__name__)

# FinetuneConfig.schedule -> HF's scheduler after the warm-up
_SCHEDULERS = {"linear": "linear", "constant": "constant_with_warmup"}
# The size recipe (project choice, measured in docs/results.md "Fine-tuning recipe"): the Θ
# presets and FinetuneConfig defaults are written for MiniLM-sized encoders (10.8 M effective
# parameters); an extracted student (<= 5 M) needs a ~10x larger learning rate and more epochs.
SMALL_MODEL = 5_000_000  # effective (non-embedding) parameters
SMALL_LR_SCALE = 10.0
SMALL_LR_MAX = 1e-3
SMALL_MIN_EPOCHS = 6


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
    check_int("max_length", max_length, minimum=8)
    has_pair = "text_pair" in data["train"].column_names

    def tok(batch: dict[str, list]) -> dict[str, list]:
        pair = batch["text_pair"] if has_pair else None
        return tokenizer(batch["text"], pair, truncation=True, max_length=max_length)

    keep = {"label"}
    return data.map(tok, batched=True, desc="tokenize",
                    remove_columns=[c for c in data["train"].column_names if c not in keep])


def tokenizer_for(model_source: ModelSource) -> Any:
    """The checkpoint's own tokenizer when it saved one, else the teacher's WordPiece."""
    if not isinstance(model_source, ArchSpec):
        path = Path(model_source)
        if (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file():
            return teacher.load_tokenizer(path)
    return teacher.load_tokenizer()


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
    config: FinetuneConfig = FinetuneConfig(),
    output_dir: str | os.PathLike[str] | None = None,
    tokenizer: Any = None,
    name: str | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune one classifier with hyperparameters `theta` and score it on validation and test.

    Args:
        model_source: checkpoint folder or `ArchSpec` (random init), see `load_classifier`.
        data: a task `DatasetDict` (raw "text"/"label", or already `encode`d).
        theta: the hyperparameter set θ.
        config: epochs, truncation, patience, selection metric, threads (`FinetuneConfig`).
        output_dir: export the kept model (+ tokenizer + ``finetune_result.json``) here,
            atomically; None: no export.
        tokenizer: defaults to the checkpoint's own, else the teacher's WordPiece.
        name: `FinetuneResult.source` (defaults to the path or ``"random:<spec>"``).
        progress: show the Trainer's progress bar.

    Returns:
        A `FinetuneResult`; `model_dir` is set when `output_dir` was given.
    """
    if not isinstance(theta, Theta):
        raise TypeError(f"theta must be a Theta, got {type(theta).__name__}")
    if not isinstance(config, FinetuneConfig):
        raise TypeError(f"config must be a FinetuneConfig, got {type(config).__name__}")
    with quiet_progress(progress), _torch_threads(config.threads):
        result, model, tokenizer = _train(model_source, data, theta=theta, config=config,
                                          tokenizer=tokenizer, name=name, progress=progress)
        if output_dir is not None:
            result = result.replace(model_dir=str(export(model, tokenizer, output_dir)))
            result.save(output_dir)  # beside the model: FinetuneResult.load(output_dir)
    return result


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


def _train(model_source: ModelSource, data: Any, *, theta: Theta, config: FinetuneConfig,
           tokenizer: Any, name: str | None, progress: bool) -> tuple[FinetuneResult, Any, Any]:
    """The run itself: (result without `model_dir`, the model with the best weights, tokenizer)."""
    import numpy as np
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers import set_seed as hf_set_seed
    from transformers.trainer_callback import PrinterCallback

    label_names = task_labels(data)
    n_labels = len(label_names)
    tokenizer = tokenizer if tokenizer is not None else tokenizer_for(model_source)
    if "input_ids" not in data["train"].column_names:
        data = encode(data, tokenizer, max_length=config.max_length)
    longest = max(max(map(len, data[split]["input_ids"]), default=0) for split in data)

    hf_set_seed(theta.seed)  # the head (and random-init weights) depend on θ's seed
    model = load_classifier(model_source, label_names=label_names, pooling=config.pooling)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model's vocab_size is "
                         f"{model.config.vocab_size}")
    if longest > model.config.max_position_embeddings:
        raise ValueError(f"inputs reach {longest} tokens but the model has only "
                         f"{model.config.max_position_embeddings} positions; lower max_length")
    tracker = _make_tracker(metric=config.metric, patience=config.patience, n_labels=n_labels)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bortkit-ft-") as tmp:
        args = TrainingArguments(
            output_dir=tmp, use_cpu=resolve_device(config.device) == "cpu", report_to=[],
            save_strategy="no",
            eval_strategy="epoch", logging_strategy="epoch", num_train_epochs=config.epochs,
            per_device_train_batch_size=theta.batch_size,
            per_device_eval_batch_size=config.eval_batch_size, learning_rate=theta.lr,
            weight_decay=theta.weight_decay, warmup_steps=theta.warmup_ratio,
            lr_scheduler_type=_SCHEDULERS[config.schedule], adam_epsilon=1e-6,
            max_grad_norm=1.0, seed=theta.seed,
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
        metric=config.metric, val=tracker.best_val, test=test, curve=tuple(tracker.curve),
        seconds=seconds, train_size=len(data["train"]), epochs=config.epochs,
        epochs_run=tracker.curve[-1].epoch,
        label_names=label_names, val_predictions=tracker.best_predictions,
    )
    return result, model, tokenizer


def is_better(value: float, best: float | None) -> bool:
    """Best-epoch rule (project choice): `value` replaces the best so far when it is at least
    as good. On a tie the LATER epoch wins: it has seen more data, and a small model often sits
    at the same (majority-class) score for its first epochs before it learns; keeping the first
    of them would keep an untrained model. Only a strictly worse value counts towards early
    stopping's patience."""
    return best is None or value >= best


def effective_params(model_source: ModelSource) -> int:
    """Parameters outside the embedding layer (`bortkit.arch.count_params`) of a shape or a
    saved BERT folder."""
    if isinstance(model_source, ArchSpec):
        return count_params(model_source).effective
    folder = resolve_checkpoint(model_source)
    if folder is None:
        raise FileNotFoundError(f"model_source {str(model_source)!r} has no config.json")
    return count_params(arch_of(folder)).effective


def recipe(model_source: ModelSource, thetas: tuple[Theta, ...] | list[Theta],
           config: FinetuneConfig) -> tuple[tuple[Theta, ...], FinetuneConfig]:
    """Θ and config sized for `model_source` (project choice; see `SMALL_MODEL`).

    A model with at most `SMALL_MODEL` effective parameters gets every θ's learning rate
    multiplied by `SMALL_LR_SCALE` (capped at `SMALL_LR_MAX`) and at least `SMALL_MIN_EPOCHS`
    epochs: at MiniLM's rates (≤ 2e-4) a 1-2 M student stays at the majority class, and it leaves
    it only after a few epochs. A larger model gets `thetas` and `config` unchanged. Called by
    the caller on its own Θ and config (never applied behind its back).
    """
    thetas = tuple(thetas)
    if effective_params(model_source) > SMALL_MODEL:
        return thetas, config
    scaled = tuple(dict.fromkeys(  # a capped grid may repeat a θ: keep the first
        t.replace(lr=min(t.lr * SMALL_LR_SCALE, SMALL_LR_MAX)) for t in thetas))
    return scaled, config.replace(epochs=max(config.epochs, SMALL_MIN_EPOCHS))


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
        if is_better(m.get(self.metric), None if self.best_val is None
                     else self.best_val.get(self.metric)):
            self.best_val, self.best_epoch, self.best_predictions = m, epoch, preds
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self._bad = 0
        else:
            self._bad += 1
            if self.patience is not None and self._bad >= self.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, self.best_epoch)
                control.should_training_stop = True


__all__ = [
    "SMALL_LR_MAX",
    "SMALL_LR_SCALE",
    "SMALL_MIN_EPOCHS",
    "SMALL_MODEL",
    "effective_params",
    "encode",
    "finetune",
    "is_better",
    "recipe",
    "task_labels",
    "tokenizer_for",
]
