"""Agora's text labellers: the second, trained model that labels new points (paper (c), step 5).

Paper (c) asks only for "loose accuracy constraints" (> 2/3); the loop measures the labeller's
dev accuracy and warns below that. Project choices (bort-papers.md §5.2):

* `TextLabeller` — a fine-tuned classifier folder (notebook 04's MiniLM, handed on as its
  ``finetune_result.json``: `upstream_labeller`), or `train_labeller`'s export; label = argmax,
  confidence = its probability.
* `EmbeddingLabeller` — logistic regression on frozen MiniLM sentence embeddings trained on a
  larger labelled sample: the cheap stand-in when no fine-tuned labeller is at hand.

Both implement `bortkit.agora.loop.Labeller`, add `probs(x)` (the whole probability vector: the
student learner's task-distillation targets) and `label_names`; `check_labeller` refuses a
labeller whose label set differs from the task's.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bortkit.finetune.classifier import load_finetuned, predict, quiet_progress
from bortkit.finetune.engine import finetune
from bortkit.finetune.records import FinetuneConfig, FinetuneResult
from bortkit.pretrain.teacher import minilm_dir
from bortkit.theta import Theta

logger = logging.getLogger(__name__)


class TextLabeller:
    """`loop.Labeller` over a fine-tuned classifier (folder or loaded model + tokenizer)."""

    def __init__(self, model_or_dir: Any, *, tokenizer: Any = None, max_length: int = 128,
                 batch_size: int = 64) -> None:
        if isinstance(model_or_dir, (str, os.PathLike)):
            from transformers import AutoTokenizer

            path = Path(model_or_dir)
            if not (path / "config.json").is_file():
                raise FileNotFoundError(f"labeller folder {str(path)!r} has no config.json")
            with quiet_progress(False):  # no weight-loading bar in notebooks
                tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
                # with the pooling it was fine-tuned with (plain AutoModel... would pool the
                # first token of a mean-pooled classifier)
                model_or_dir = load_finetuned(path)
        if tokenizer is None:
            raise ValueError("tokenizer is required when the labeller is a model object")
        self.model, self.tokenizer = model_or_dir.eval(), tokenizer
        self.max_length, self.batch_size = max_length, batch_size
        self._cache: dict[str, np.ndarray] = {}

    @property
    def label_names(self) -> tuple[str, ...]:
        """Class names in class-id order, from the classifier's ``id2label``."""
        id2label = self.model.config.id2label
        return tuple(str(id2label[i]) for i in range(self.model.config.num_labels))

    def probs(self, x: Sequence[str]) -> np.ndarray:
        """(n, n_labels) class probabilities; each distinct text is classified once per
        labeller (the loop labels a point, the student learner then asks for its
        probabilities; controls and seeds meet the same dev, test and pool texts again)."""
        todo = [t for t in dict.fromkeys(x) if t not in self._cache]
        if todo:
            p = predict(self.model, todo, tokenizer=self.tokenizer, batch_size=self.batch_size,
                        max_length=self.max_length)
            self._cache.update(zip(todo, np.asarray(p.probs)))
        if len(x) == 0:
            return np.zeros((0, self.model.config.num_labels))
        return np.stack([self._cache[t] for t in x])

    def label(self, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(x) == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        probs = self.probs(x)
        return probs.argmax(axis=1).astype(int), probs.max(axis=1)


class EmbeddingLabeller:
    """`loop.Labeller`: logistic regression on frozen sentence embeddings, trained on a
    (larger) labelled sample — the cheap stand-in for a fine-tuned MiniLM classifier."""

    def __init__(self, embedder: Any, texts: Sequence[str], labels: Sequence[int], *,
                 C: float = 1.0, label_names: Sequence[str] | None = None) -> None:
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels) or len(texts) == 0:
            raise ValueError(f"texts and labels must be non-empty and of equal length, got "
                             f"{len(texts)} and {len(labels)}")
        self.embedder = embedder
        self.model_ = LogisticRegression(C=C, max_iter=2000).fit(
            np.asarray(embedder(list(texts))), np.asarray(labels, dtype=int))
        self.n_train_ = len(texts)
        n = int(max(self.model_.classes_)) + 1
        self.label_names = (tuple(label_names) if label_names is not None
                            else tuple(str(i) for i in range(n)))

    def probs(self, x: Sequence[str]) -> np.ndarray:
        """(n, n_labels) class probabilities (0 for a class the training sample lacked)."""
        out = np.zeros((len(x), len(self.label_names)))
        if len(x):
            p = self.model_.predict_proba(np.asarray(self.embedder(list(x))))
            out[:, self.model_.classes_] = p
        return out

    def label(self, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(x) == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        p = self.probs(x)
        return p.argmax(axis=1).astype(int), p.max(axis=1)


def check_labeller(labeller: Any, label_names: Sequence[str]) -> Any:
    """`labeller`, after checking that it labels the task's classes (names, in order).

    Raises:
        ValueError: its label set differs from `label_names` (e.g. a classifier fine-tuned on
            another task): its labels would be meaningless for this one.
    """
    mine = tuple(str(v) for v in getattr(labeller, "label_names", ()))
    want = tuple(str(v) for v in label_names)
    generic = all(v == f"LABEL_{i}" or v == str(i) for i, v in enumerate(mine))
    if mine and (len(mine) != len(want) or (not generic and mine != want)):
        raise ValueError(f"labeller labels {list(mine)} differ from the task's {list(want)}: "
                         "use a labeller fine-tuned on this task")
    return labeller


def train_labeller(
    data: Any, output_dir: str | os.PathLike[str], *, model_source: Any = None,
    theta: Theta = Theta(seed=0, lr=1e-4, batch_size=16, warmup_ratio=0.1),
    config: FinetuneConfig = FinetuneConfig(epochs=2, patience=None), reuse: bool = True,
) -> Path:
    """Fine-tune the labeller (MiniLM by default) on `data` and export it to `output_dir`.

    `data` is a task `DatasetDict`: give it a larger labelled train sample than the student's
    (that extra labelled data is what the labeller brings to Agora). With `reuse`, an existing
    export in `output_dir` is returned as is.
    """
    out = Path(output_dir)
    if reuse and (out / FinetuneResult.file_name).is_file() and (out / "config.json").is_file():
        return out
    res = finetune(model_source if model_source is not None else minilm_dir(), data,
                   theta=theta, config=config, output_dir=out, progress=False)
    logger.info("labeller: val accuracy %.3f on %d validation texts",
                res.val.get("accuracy"), len(data["validation"]))
    return out


def upstream_labeller(finetune_dir: str | os.PathLike[str]) -> str:
    """The labeller folder notebook 04 handed on (`FinetuneResult.load(finetune_dir).model_dir`),
    or "" when `finetune_dir` is empty, holds no result, or its model is gone (so notebook 05
    also runs alone, with the embedding labeller)."""
    if not str(finetune_dir).strip():
        return ""
    try:
        model_dir = FinetuneResult.load(finetune_dir).model_dir or ""
    except FileNotFoundError:
        return ""
    path = Path(model_dir)
    if model_dir and not path.is_absolute() and not path.exists():
        # Written relative to another working directory (e.g. "artifacts/04_finetune/models/
        # minilm"): find its tail under `finetune_dir` ("models/minilm").
        tails = (Path(*path.parts[i:]) for i in range(len(path.parts)))
        path = next((Path(finetune_dir) / t for t in tails
                     if (Path(finetune_dir) / t / "config.json").is_file()), path)
    return str(path) if model_dir and (path / "config.json").is_file() else ""


__all__ = [
    "EmbeddingLabeller",
    "TextLabeller",
    "check_labeller",
    "train_labeller",
    "upstream_labeller",
]
