"""Agora's text learners: what the loop fine-tunes once per θ (paper (c), step 1).

Project choices (paper (c) gives no text learner; bort-papers.md §5.2):

* `FinetuneLearner` — θ ∈ Θ are `Theta` records (their own seed included). Each fit
  fine-tunes a fresh copy of the student on the current train set with the dev set as the
  validation split (best-epoch selection on dev, as Agora selects θ on dev anyway). Dev
  predictions come from the fit itself (`FinetuneResult.val_predictions`), so no model has to
  be exported; the optional test split is scored by the same fit.
* `HeadLearner` — the cheap learner for 2 CPU cores: an MLP head (Bort's head shape) trained on
  frozen MiniLM sentence embeddings with the same optimiser recipe; each fit takes under a
  second.

Both implement `bortkit.agora.loop.Learner`; torch is imported lazily inside the methods. The
learner of issue 15, the extracted student fine-tuned for a fixed number of steps per fit with
task distillation, is `bortkit.agora.student.StudentLearner`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bortkit.finetune.classifier import predict
from bortkit.finetune.engine import finetune, task_labels
from bortkit.finetune.records import FinetuneConfig
from bortkit.records import check_positive_int

#: The text learner's run settings: 3 epochs, no early stopping (every θ gets the same budget).
LEARNER_CONFIG = FinetuneConfig(epochs=3, patience=None)


def task_dataset(texts: Sequence[str], labels: Sequence[int], label_names: Sequence[str]) -> Any:
    """A `datasets.Dataset` with "text" and "label" (a `ClassLabel` of `label_names`) columns."""
    from datasets import ClassLabel, Dataset, Features, Value

    feats = Features({"text": Value("string"), "label": ClassLabel(names=list(label_names))})
    return Dataset.from_dict({"text": list(texts), "label": [int(v) for v in labels]},
                             features=feats)


def split_xy(ds: Any) -> tuple[list[str], np.ndarray]:
    """(texts, labels) of a `datasets.Dataset` split with "text"/"label" columns."""
    return list(ds["text"]), np.asarray(ds["label"], dtype=int)


class FinetuneLearner:
    """`loop.Learner` over `bortkit.finetune.engine.finetune`; `fitted` is a `FinetuneResult`.

    Args:
        model_source: the student (checkpoint folder or `ArchSpec`).
        dev: (texts, labels) — the validation split of every fit (Agora's dev set).
        label_names: class names.
        test: optional (texts, labels) scored by every fit (`FinetuneResult.test`).
        config: the settings of every fit (epochs, truncation, patience).
        tokenizer: shared tokenizer (default: the student's / the teacher's).
    """

    def __init__(self, model_source: Any, *, dev: tuple[Sequence[str], Sequence[int]],
                 label_names: Sequence[str], test: tuple[Sequence[str], Sequence[int]] | None
                 = None, config: FinetuneConfig = LEARNER_CONFIG, tokenizer: Any = None) -> None:
        self.model_source = model_source
        self.dev_texts = list(dev[0])
        self.dev_labels = [int(v) for v in dev[1]]
        self.label_names = tuple(label_names)
        self.test = test
        self.config = config
        self.tokenizer = tokenizer
        self.n_steps_ = 0  # optimiser steps over every fit (for equal-budget baselines)

    def fit(self, x: Sequence[str], y: np.ndarray, theta: Any, *, seed: int,
            epochs: int | None = None) -> Any:
        import datasets

        # project choice: θ carries its own seed (Bort's grid has a seed axis); the run seed
        # fixes the data, the sampler and the labeller's inputs.
        splits = {"train": task_dataset(x, y, self.label_names),
                  "validation": task_dataset(self.dev_texts, self.dev_labels, self.label_names)}
        if self.test is not None:
            splits["test"] = task_dataset(self.test[0], self.test[1], self.label_names)
        config = self.config if epochs is None else self.config.replace(epochs=epochs)
        res = finetune(self.model_source, datasets.DatasetDict(splits), theta=theta,
                       config=config, tokenizer=self.tokenizer, progress=False)
        self.n_steps_ += res.epochs_run * -(-len(x) // theta.batch_size)
        return res

    def predict(self, fitted: Any, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if list(x) == self.dev_texts:
            labels = np.asarray(fitted.val_predictions, dtype=int)
            return labels, np.eye(len(self.label_names))[labels]
        if fitted.model_dir is None:
            raise ValueError("FinetuneLearner predicts only the dev set unless the fit was "
                             "exported (model_dir is None)")
        p = predict(fitted.model_dir, list(x), max_length=self.config.max_length)
        return np.asarray(p.labels), np.asarray(p.probs)


def finetune_learner(data: Any, student: Any, *, config: FinetuneConfig = LEARNER_CONFIG,
                     tokenizer: Any = None, with_test: bool = True) -> FinetuneLearner:
    """A `FinetuneLearner` whose dev (and test) splits are `data`'s validation (and test)."""
    test = split_xy(data["test"]) if with_test and "test" in data else None
    return FinetuneLearner(student, dev=split_xy(data["validation"]),
                           label_names=task_labels(data), test=test, config=config,
                           tokenizer=tokenizer)


class HeadLearner:
    """`loop.Learner` that trains a small MLP head on frozen sentence embeddings.

    The cheap text learner (project choice, for 2 CPU cores): θ is a `Theta`
    (seed, lr, weight_decay, warmup_ratio, batch_size) and training is AdamW + linear warm-up /
    decay + gradient clip 1, as in `finetune`, but only the head (hidden → tanh → linear, Bort's
    head shape) learns; the encoder (MiniLM) stays frozen, so each fit takes well under a second.

    Args:
        embedder: texts -> (n, d) array (e.g. a caching `embed.SentenceEmbedder`).
        n_labels: number of classes.
        epochs: passes over the train set per fit.
        hidden: width of the head's hidden layer.
    """

    def __init__(self, embedder: Any, *, n_labels: int, epochs: int = 20,
                 hidden: int = 128) -> None:
        check_positive_int("epochs", epochs)
        self.embedder, self.n_labels, self.epochs, self.hidden = embedder, n_labels, epochs, hidden
        self.n_steps_ = 0

    def fit(self, x: Sequence[str], y: np.ndarray, theta: Any, *, seed: int,
            epochs: int | None = None) -> Any:
        import torch

        feats = torch.as_tensor(np.asarray(self.embedder(list(x)), dtype=np.float32))
        target = torch.as_tensor(np.asarray(y, dtype=np.int64))
        n, bs = len(target), theta.batch_size
        epochs = epochs or self.epochs
        total = epochs * -(-n // bs)
        warm = int(theta.warmup_ratio * total)
        g = torch.Generator().manual_seed(theta.seed)
        with torch.random.fork_rng():
            torch.manual_seed(theta.seed)  # θ's seed fixes the head's initialisation
            head = torch.nn.Sequential(
                torch.nn.Dropout(0.1), torch.nn.Linear(feats.shape[1], self.hidden),
                torch.nn.Tanh(), torch.nn.Dropout(0.1),
                torch.nn.Linear(self.hidden, self.n_labels))
            opt = torch.optim.AdamW(head.parameters(), lr=theta.lr, eps=1e-6,
                                    weight_decay=theta.weight_decay)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (  # warm-up, linear decay
                (s + 1) / max(1, warm) if s < warm
                else max(0.0, (total - s) / max(1, total - warm))))
            head.train()
            for _ in range(epochs):
                perm = torch.randperm(n, generator=g)
                for b in range(0, n, bs):
                    idx = perm[b:b + bs]
                    loss = torch.nn.functional.cross_entropy(head(feats[idx]), target[idx])
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
                    opt.step()
                    sched.step()
        self.n_steps_ += total
        return head.eval()

    def predict(self, fitted: Any, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        feats = torch.as_tensor(np.asarray(self.embedder(list(x)), dtype=np.float32))
        with torch.inference_mode():
            probs = fitted(feats).softmax(-1).numpy()
        return probs.argmax(axis=1), probs


def test_accuracy(learner: Any, fitted: Any, data: Any) -> float | None:
    """Test accuracy of a fitted model: its own `FinetuneResult.test`, else `learner.predict`
    on `data["test"]` (None without a fitted model or a test split)."""
    test = getattr(fitted, "test", None)
    if test is not None:
        return float(test.get("accuracy"))
    if fitted is None or "test" not in data:
        return None
    texts, labels = split_xy(data["test"])
    return float(np.mean(learner.predict(fitted, texts)[0] == labels))


__all__ = [
    "LEARNER_CONFIG",
    "FinetuneLearner",
    "HeadLearner",
    "finetune_learner",
    "split_xy",
    "task_dataset",
    "test_accuracy",
]
