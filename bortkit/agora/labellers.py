"""Agora's text labellers: the second, trained model that labels new points (paper (c), step 5).

Paper (c) asks only for "loose accuracy constraints" (> 2/3); the loop measures the labeller's
dev accuracy and warns below that. Project choices (bort-papers.md §5.2):

* `TextLabeller` — a fine-tuned classifier folder (notebook 04's MiniLM, handed on as its
  ``finetune_result.json``: `upstream_labeller`), or `train_labeller`'s export; label = argmax,
  confidence = its probability.
* `EmbeddingLabeller` — logistic regression on frozen MiniLM sentence embeddings trained on a
  larger labelled sample: the cheap stand-in when no fine-tuned labeller is at hand.

Both implement `bortkit.agora.loop.Labeller`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bortkit.finetune.classifier import predict, quiet_progress
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
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            path = Path(model_or_dir)
            if not (path / "config.json").is_file():
                raise FileNotFoundError(f"labeller folder {str(path)!r} has no config.json")
            with quiet_progress(False):  # no weight-loading bar in notebooks
                tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
                model_or_dir = AutoModelForSequenceClassification.from_pretrained(path)
        if tokenizer is None:
            raise ValueError("tokenizer is required when the labeller is a model object")
        self.model, self.tokenizer = model_or_dir.eval(), tokenizer
        self.max_length, self.batch_size = max_length, batch_size

    def label(self, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(x) == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        p = predict(self.model, list(x), tokenizer=self.tokenizer, batch_size=self.batch_size,
                    max_length=self.max_length)
        probs = np.asarray(p.probs)
        return np.asarray(p.labels, dtype=int), probs.max(axis=1)


class EmbeddingLabeller:
    """`loop.Labeller`: logistic regression on frozen sentence embeddings, trained on a
    (larger) labelled sample — the cheap stand-in for a fine-tuned MiniLM classifier."""

    def __init__(self, embedder: Any, texts: Sequence[str], labels: Sequence[int], *,
                 C: float = 1.0) -> None:
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels) or len(texts) == 0:
            raise ValueError(f"texts and labels must be non-empty and of equal length, got "
                             f"{len(texts)} and {len(labels)}")
        self.embedder = embedder
        self.model_ = LogisticRegression(C=C, max_iter=2000).fit(
            np.asarray(embedder(list(texts))), np.asarray(labels, dtype=int))
        self.n_train_ = len(texts)

    def label(self, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(x) == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        p = self.model_.predict_proba(np.asarray(self.embedder(list(x))))
        return self.model_.classes_[p.argmax(axis=1)], p.max(axis=1)


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
    "train_labeller",
    "upstream_labeller",
]
