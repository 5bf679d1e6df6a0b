"""Agora's student learner: the extracted, KD-pretrained student fine-tuned once per θ.

`StudentLearner` is the `bortkit.agora.loop.Learner` of issue 15 ("Bort in miniature"): each fit
loads a fresh classifier from the student (notebook 03's `PretrainResult.model_dir`, or an
`ArchSpec` for the random-init ablation) with `bortkit.finetune.classifier.load_classifier`
(Bort's head, `StudentConfig.pooling`) and trains it with the fine-tuning recipe of
`bortkit.finetune.engine` (AdamW with BERTAdam-style decoupled decay and ε = 1e-6, no decay on
biases/LayerNorm, global gradient clip 1, linear warm-up over θ's `warmup_ratio` then linear
decay to 0) in a small loop of its own, for two reasons the HF `Trainer` does not serve:

* **Equal budget per fit** (project choice): every fit takes exactly `StudentConfig.steps`
  optimiser steps of θ's batch size, whatever the train set's size. Agora's later rounds, the
  random-source control and plain fine-tuning on gold therefore train their models for the same
  number of steps: a gain is the data's, not extra compute. No epoch is selected on dev (the
  last weights are kept), so dev is read only by the loop.
* **Task distillation** (`StudentConfig.soft_labels`, project choice): a point the labeller
  labelled is trained towards the labeller's whole probability vector (soft cross-entropy,
  temperature 1); gold points keep their one-hot label. TinyBERT's task distillation
  (Jiao et al. 2020, §3.2) differs: it matches the teacher's logits on *every* example (gold
  included) and adds hidden-state and attention losses in a first stage, on a train set
  augmented ~20× by word replacement. Ours keeps gold authoritative (the labeller is right only
  ~80% of the time on rt) and distils only where Agora added points (see docs/design/agora.md).

torch is imported lazily inside the methods.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from bortkit.finetune.classifier import load_classifier, quiet_progress, resolve_checkpoint
from bortkit.finetune.records import POOLINGS
from bortkit.measure.latency import check_device
from bortkit.measure.machine import torch_threads
from bortkit.pretrain.records import PretrainResult
from bortkit.records import Record, check_bool, check_choice, check_int, check_positive_int
from bortkit.utils import resolve_device

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudentConfig(Record):
    """How every fit of the student learner trains (θ gives lr, decay, warm-up, batch, seed).

    Args:
        steps: optimiser steps per fit (the same for every θ, round and arm).
        max_length: truncation in tokens.
        pooling: "mean" (over the attended tokens) or "first" (Bort's first-token head), see
            `bortkit.finetune.classifier.set_pooling`.
        soft_labels: task distillation: train labeller-labelled points on the labeller's
            probabilities (gold points keep hard labels).
        eval_batch_size: prediction batch size.
        threads: torch intra-op threads during fits and predictions (None: unchanged).
        device: "auto", "cpu" or "cuda" (`bortkit.utils.resolve_device`).
    """

    steps: int = 300
    max_length: int = 64
    pooling: str = "mean"
    soft_labels: bool = True
    eval_batch_size: int = 128
    threads: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        check_positive_int("StudentConfig.steps", self.steps)
        check_int("StudentConfig.max_length", self.max_length, minimum=8)
        check_choice("StudentConfig.pooling", self.pooling, POOLINGS)
        check_bool("StudentConfig.soft_labels", self.soft_labels)
        check_positive_int("StudentConfig.eval_batch_size", self.eval_batch_size)
        if self.threads is not None:
            check_positive_int("StudentConfig.threads", self.threads)
        # the name only (no torch import): availability is checked when a fit starts
        check_device(self.device)

    @classmethod
    def smoke(cls, **changes: Any) -> StudentConfig:
        """Tests and notebook smoke runs: 4 steps of 24-token inputs on one thread."""
        return cls(**{"steps": 4, "max_length": 24, "threads": 1, **changes})


class StudentLearner:
    """`loop.Learner` that fine-tunes the student per θ for a fixed number of steps.

    Args:
        model_source: the student: a checkpoint folder (e.g.
            ``PretrainResult.load(dir).model_dir``) or an `ArchSpec` (random initialisation).
        label_names: the task's class names.
        tokenizer: the student's tokenizer (the teacher's WordPiece).
        gold_texts: the gold-labelled train texts; every other point was labelled by the
            labeller (what `soft_labels` distils).
        soft_targets: texts -> (n, n_labels) probabilities, the labeller's
            (`TextLabeller.probs`); needed when ``config.soft_labels``.
        config: `StudentConfig`.

    Attributes:
        n_steps_: optimiser steps over every fit (for equal-budget comparisons).
    """

    def __init__(self, model_source: Any, *, label_names: Sequence[str], tokenizer: Any,
                 gold_texts: Sequence[str] = (),
                 soft_targets: Callable[[list[str]], np.ndarray] | None = None,
                 config: StudentConfig = StudentConfig()) -> None:
        if len(label_names) < 2:
            raise ValueError(f"label_names must hold >= 2 classes, got {list(label_names)}")
        if config.soft_labels and soft_targets is None:
            raise ValueError("config.soft_labels needs soft_targets (the labeller's "
                             "probabilities, e.g. TextLabeller.probs)")
        self.model_source, self.label_names = model_source, tuple(label_names)
        self.tokenizer, self.config = tokenizer, config
        self.gold = set(gold_texts)
        self.soft_targets = soft_targets
        self.n_steps_ = 0
        self._ids: dict[str, list[int]] = {}
        self._soft: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------------------ data
    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._ids]
        if todo:
            enc = self.tokenizer(todo, truncation=True, max_length=self.config.max_length)
            self._ids.update(zip(todo, enc["input_ids"]))
        return [self._ids[t] for t in texts]

    def _batch(self, rows: Sequence[list[int]], device: str) -> dict[str, Any]:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        att = torch.zeros_like(ids)
        for j, r in enumerate(rows):
            ids[j, :len(r)] = torch.tensor(r)
            att[j, :len(r)] = 1
        return {"input_ids": ids.to(device), "attention_mask": att.to(device)}

    def targets(self, x: Sequence[str], y: np.ndarray) -> np.ndarray:
        """(n, n_labels) training targets: one-hot gold, the labeller's probabilities for the
        labeller-labelled points when ``soft_labels`` (else their one-hot label)."""
        n_labels = len(self.label_names)
        y = np.asarray(y, dtype=int)
        if len(y) and (y.min() < 0 or y.max() >= n_labels):
            raise ValueError(f"labels must lie in [0, {n_labels}), got [{y.min()}, {y.max()}]")
        out = np.eye(n_labels, dtype=np.float32)[y]
        if not self.config.soft_labels:
            return out
        added = [i for i, t in enumerate(x) if t not in self.gold]
        todo = list(dict.fromkeys(x[i] for i in added if x[i] not in self._soft))
        if todo:
            probs = np.asarray(self.soft_targets(todo), dtype=np.float32)  # type: ignore[misc]
            if probs.shape != (len(todo), n_labels):
                raise ValueError(f"soft_targets returned shape {probs.shape}, expected "
                                 f"({len(todo)}, {n_labels})")
            self._soft.update(zip(todo, probs))
        for i in added:
            out[i] = self._soft[x[i]]
        return out

    # ------------------------------------------------------------------------------ learner
    def fit(self, x: Sequence[str], y: np.ndarray, theta: Any, *, seed: int) -> Any:
        """Fine-tune a fresh student on (x, y) for `config.steps` steps; returns the model.

        θ's seed fixes the head's initialisation, dropout and the batch order (the run `seed`
        fixes the data, as in `bortkit.agora.learners.FinetuneLearner`).
        """
        import torch

        x = list(x)
        if not x:
            raise ValueError("cannot fit on an empty train set")
        cfg = self.config
        device = resolve_device(cfg.device)
        target = torch.as_tensor(self.targets(x, y))  # (n, n_labels)
        rows = self._encode(x)
        with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(theta.seed)
            with quiet_progress(False):
                model = load_classifier(self.model_source, label_names=self.label_names,
                                        pooling=cfg.pooling).to(device)
            opt, sched = _optimizer(model, theta, cfg.steps)
            order = np.random.default_rng([theta.seed, 7]).permutation
            perm, pos = order(len(x)), 0
            model.train()
            for _ in range(cfg.steps):
                if pos + theta.batch_size > len(x) and pos > 0:  # next epoch: reshuffle
                    perm, pos = order(len(x)), 0
                idx = perm[pos:pos + theta.batch_size]
                pos += len(idx)
                logits = model(**self._batch([rows[i] for i in idx], device)).logits
                logp = torch.log_softmax(logits.float(), dim=-1)  # (batch, n_labels)
                loss = -(target[idx].to(device) * logp).sum(-1).mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
        self.n_steps_ += cfg.steps
        logger.debug("fit θ=%s on %d points: last loss %.4f", getattr(theta, "label", theta),
                     len(x), float(loss.detach()))
        return model.eval()

    def predict(self, fitted: Any, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(labels (n,), probabilities (n, n_labels)) of the fitted student."""
        import torch

        x = list(x)
        n_labels = len(self.label_names)
        if not x:
            return np.zeros(0, dtype=int), np.zeros((0, n_labels))
        device = next(fitted.parameters()).device
        rows = self._encode(x)
        out = []
        with torch_threads(self.config.threads), torch.inference_mode():
            fitted.eval()
            for b in range(0, len(rows), self.config.eval_batch_size):
                batch = self._batch(rows[b:b + self.config.eval_batch_size], str(device))
                out.append(fitted(**batch).logits.float().softmax(-1).cpu().numpy())
        probs = np.concatenate(out)
        return probs.argmax(axis=1), probs


def upstream_student(pretrained_dir: str | os.PathLike[str]) -> str:
    """The student notebook 03 handed on (`PretrainResult.load(pretrained_dir).model_dir`, else
    its ``model/`` folder), or "" when `pretrained_dir` is empty or holds no student (so
    notebook 05 also runs alone, with a random-init student)."""
    if not str(pretrained_dir).strip():
        return ""
    try:
        model_dir = PretrainResult.load(pretrained_dir).model_dir or ""
    except (FileNotFoundError, ValueError):
        model_dir = ""
    found = resolve_checkpoint(model_dir) if model_dir else None
    found = found or resolve_checkpoint(pretrained_dir)  # e.g. written from another cwd
    return str(found) if found is not None else ""


def _optimizer(model: Any, theta: Any, steps: int) -> tuple[Any, Any]:
    """AdamW (ε 1e-6; decoupled decay × lr as BERTAdam; none on biases/LayerNorm) and the
    linear warm-up/decay schedule of `bortkit.finetune.engine`."""
    import torch

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": theta.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    try:  # fused: one kernel per step; halves a small student's step on 2 cores (measured)
        opt = torch.optim.AdamW(groups, lr=theta.lr, eps=1e-6, fused=True)
    except (RuntimeError, TypeError):  # a device/dtype without the fused kernel
        opt = torch.optim.AdamW(groups, lr=theta.lr, eps=1e-6)
    warm = int(math.ceil(theta.warmup_ratio * steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (steps - step) / max(1, steps - warm))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


__all__ = ["StudentConfig", "StudentLearner", "upstream_student"]
