"""Agora on text: a learner over `bortkit.finetune.engine`, the mask-and-refill sampler, the labeller.

Project choices (paper (c) gives no text sampler, labeller or sample count; bort-papers.md §5.2):

* `FinetuneLearner` — θ ∈ Θ are `Theta` records (their own seed included). Each fit
  fine-tunes a fresh copy of the student on the current train set with the dev set as the
  validation split (best-epoch selection on dev, as Agora selects θ on dev anyway). Dev
  predictions come from the fit itself (`FinetuneResult.val_predictions`), so no model has to
  be exported; the optional test split is scored by the same fit.
* `MaskRefillSampler` — g(x): mask a fraction of x's word pieces and refill each with a token
  sampled from the teacher MLM (temperature `temperature`; special tokens and the original token
  excluded, so every masked position changes); accept a proposal when the cosine similarity of
  its MiniLM sentence embedding to the source lies in the band ("similar, but neither too
  similar nor too different"); up to `n_per_source` accepted per source from
  `n_per_source · max_tries` proposals.
* `TextLabeller` — a fine-tuned MiniLM classifier (`train_labeller`: MiniLM fine-tuned on a
  larger labelled sample of the task's train split); label = argmax, confidence = its prob.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bortkit.agora import loop
from bortkit.theta import Theta, make_grid, theta_grid

logger = logging.getLogger(__name__)


def _dataset(texts: Sequence[str], labels: Sequence[int], label_names: Sequence[str]) -> Any:
    from datasets import ClassLabel, Dataset, Features, Value

    feats = Features({"text": Value("string"), "label": ClassLabel(names=list(label_names))})
    return Dataset.from_dict({"text": list(texts), "label": [int(v) for v in labels]},
                             features=feats)


def split_xy(ds: Any) -> tuple[list[str], np.ndarray]:
    """(texts, labels) of a `datasets.Dataset` split with "text"/"label" columns."""
    return list(ds["text"]), np.asarray(ds["label"], dtype=int)


# ----------------------------------------------------------------------------- learner
class FinetuneLearner:
    """`loop.Learner` over `bortkit.finetune.engine.finetune`; `fitted` is a `FinetuneResult`.

    Args:
        model_source: the student (checkpoint folder or `ArchSpec`).
        dev: (texts, labels) — the validation split of every fit (Agora's dev set).
        label_names: class names.
        test: optional (texts, labels) scored by every fit (`FinetuneResult.test`).
        epochs, max_length, patience: passed to `finetune`.
        tokenizer: shared tokenizer (default: the student's / the teacher's).
    """

    def __init__(self, model_source: Any, *, dev: tuple[Sequence[str], Sequence[int]],
                 label_names: Sequence[str], test: tuple[Sequence[str], Sequence[int]] | None
                 = None, epochs: int = 3, max_length: int = 64, patience: int | None = None,
                 tokenizer: Any = None) -> None:
        self.model_source = model_source
        self.dev_texts = list(dev[0])
        self.dev_labels = [int(v) for v in dev[1]]
        self.label_names = tuple(label_names)
        self.test = test
        self.epochs, self.max_length, self.patience = epochs, max_length, patience
        self.tokenizer = tokenizer
        self.n_steps_ = 0  # optimiser steps over every fit (for equal-budget baselines)

    def fit(self, x: Sequence[str], y: np.ndarray, theta: Any, *, seed: int,
            epochs: int | None = None) -> Any:
        import datasets

        from bortkit import finetune

        # project choice: θ carries its own seed (Bort's grid has a seed axis); the run seed
        # fixes the data, the sampler and the labeller's inputs.
        splits = {"train": _dataset(x, y, self.label_names),
                  "validation": _dataset(self.dev_texts, self.dev_labels, self.label_names)}
        if self.test is not None:
            splits["test"] = _dataset(self.test[0], self.test[1], self.label_names)
        res = finetune.finetune(self.model_source, datasets.DatasetDict(splits), theta=theta,
                                epochs=epochs or self.epochs, max_length=self.max_length,
                                patience=self.patience, tokenizer=self.tokenizer,
                                progress=False)
        self.n_steps_ += res.epochs_run * -(-len(x) // theta.batch_size)
        return res

    def predict(self, fitted: Any, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if list(x) == self.dev_texts:
            labels = np.asarray(fitted.val_predictions, dtype=int)
            return labels, np.eye(len(self.label_names))[labels]
        if fitted.model_dir is None:
            raise ValueError("FinetuneLearner predicts only the dev set unless the fit was "
                             "exported (model_dir is None)")
        from bortkit import finetune

        p = finetune.predict(fitted.model_dir, list(x), max_length=self.max_length)
        return np.asarray(p.labels), np.asarray(p.probs)


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
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
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


# ----------------------------------------------------------------------------- labeller
class TextLabeller:
    """`loop.Labeller` over a fine-tuned classifier (folder or loaded model + tokenizer)."""

    def __init__(self, model_or_dir: Any, *, tokenizer: Any = None, max_length: int = 128,
                 batch_size: int = 64) -> None:
        if isinstance(model_or_dir, (str, os.PathLike)):
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            path = Path(model_or_dir)
            if not (path / "config.json").is_file():
                raise FileNotFoundError(f"labeller folder {str(path)!r} has no config.json")
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
            model_or_dir = AutoModelForSequenceClassification.from_pretrained(path)
        if tokenizer is None:
            raise ValueError("tokenizer is required when the labeller is a model object")
        self.model, self.tokenizer = model_or_dir.eval(), tokenizer
        self.max_length, self.batch_size = max_length, batch_size

    def label(self, x: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        from bortkit import finetune

        if len(x) == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        p = finetune.predict(self.model, list(x), tokenizer=self.tokenizer,
                             batch_size=self.batch_size, max_length=self.max_length)
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
    theta: Any = None, epochs: int = 2, max_length: int = 64, reuse: bool = True,
) -> Path:
    """Fine-tune the labeller (MiniLM by default) on `data` and export it to `output_dir`.

    `data` is a task `DatasetDict`: give it a larger labelled train sample than the student's
    (that extra labelled data is what the labeller brings to Agora). With `reuse`, an existing
    export in `output_dir` is returned as is.
    """
    from bortkit import finetune

    out = Path(output_dir)
    if reuse and (out / finetune.RESULT_NAME).is_file() and (out / "config.json").is_file():
        return out
    if model_source is None:
        from bortkit.embed import _minilm_dir

        model_source = _minilm_dir()
    theta = theta or Theta(seed=0, lr=1e-4, batch_size=16, warmup_ratio=0.1)
    res = finetune.finetune(model_source, data, theta=theta, epochs=epochs,
                            max_length=max_length, patience=None, output_dir=out,
                            progress=False)
    logger.info("labeller: val accuracy %.3f on %d validation texts",
                res.val.get("accuracy"), len(data["validation"]))
    return out


# ----------------------------------------------------------------------------- sampler
class MaskRefillSampler:
    """Mask-and-refill with an MLM, accepted inside a cosine band of sentence embeddings.

    Args:
        mlm: a `BertForMaskedLM` (the teacher), in eval mode.
        tokenizer: its tokenizer (must have a mask token).
        embedder: texts -> (n, d) array (default `embed.SentenceEmbedder()`).
        mask_prob: fraction of word pieces masked per proposal (at least one).
        temperature: softmax temperature of the refill.
        max_tries: proposals per wanted sample.
        max_length: truncation of sources in tokens.
        batch_size: MLM inference batch size.
    """

    def __init__(self, mlm: Any, tokenizer: Any, *, embedder: Any = None,
                 mask_prob: float = 0.15, temperature: float = 1.0, max_tries: int = 3,
                 max_length: int = 64, batch_size: int = 32) -> None:
        if not 0.0 < mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if not isinstance(max_tries, int) or max_tries < 1:
            raise ValueError(f"max_tries must be an int >= 1, got {max_tries!r}")
        if tokenizer.mask_token_id is None:
            raise ValueError("tokenizer has no mask token: mask-and-refill needs one")
        if embedder is None:
            from bortkit.embed import SentenceEmbedder

            embedder = SentenceEmbedder()
        self.mlm, self.tokenizer, self.embedder = mlm, tokenizer, embedder
        self.mask_prob, self.temperature, self.max_tries = mask_prob, temperature, max_tries
        self.max_length, self.batch_size = max_length, batch_size

    def propose(self, sources: Sequence[str], *, n: int, seed: int) -> list[list[str]]:
        """`n` refilled variants of each source (unfiltered; may repeat)."""
        import torch

        g = torch.Generator().manual_seed(int(seed))
        tok = self.tokenizer
        special = torch.tensor(sorted(set(tok.all_special_ids)))
        rows, owners = [], []
        for i, text in enumerate(sources):
            ids = tok(text, truncation=True, max_length=self.max_length)["input_ids"]
            rows += [ids] * n
            owners += [i] * n
        out: list[list[str]] = [[] for _ in sources]
        self.mlm.eval()
        for b in range(0, len(rows), self.batch_size):
            batch = rows[b:b + self.batch_size]
            width = max(len(r) for r in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            att = torch.zeros_like(ids)
            for j, r in enumerate(batch):
                ids[j, :len(r)] = torch.tensor(r)
                att[j, :len(r)] = 1
            cand = (att == 1) & ~torch.isin(ids, special)  # (batch, width) maskable positions
            pick = (torch.rand(ids.shape, generator=g) < self.mask_prob) & cand
            for j in range(len(batch)):  # at least one masked position per proposal
                if not pick[j].any() and cand[j].any():
                    pos = torch.nonzero(cand[j]).squeeze(1)
                    pick[j, pos[torch.randint(len(pos), (1,), generator=g)]] = True
            original = ids[pick]  # (n_masked,)
            masked = ids.clone()
            masked[pick] = tok.mask_token_id
            with torch.inference_mode():
                hidden = self.mlm.bert(input_ids=masked, attention_mask=att).last_hidden_state
                logits = self.mlm.cls(hidden[pick]).float() / self.temperature  # (n_masked, V)
                logits[:, special] = -float("inf")
                logits[torch.arange(len(original)), original] = -float("inf")  # force a change
                fill = torch.multinomial(logits.softmax(-1), 1, generator=g).squeeze(1)
            masked[pick] = fill
            for j in range(len(batch)):
                text = tok.decode(masked[j, :int(att[j].sum())], skip_special_tokens=True)
                out[owners[b + j]].append(text)
        return out

    def sample(self, sources: Sequence[str], *, n_per_source: int, band: tuple[float, float],
               seed: int) -> tuple[list[str], np.ndarray]:
        sources = list(sources)
        if not sources:
            return [], np.zeros(0, dtype=int)
        proposals = self.propose(sources, n=n_per_source * self.max_tries, seed=seed)
        flat, owner = [], []
        for i, props in enumerate(proposals):
            seen = {sources[i]}
            for p in props:
                if p.strip() and p not in seen:
                    seen.add(p)
                    flat.append(p)
                    owner.append(i)
        if not flat:
            return [], np.zeros(0, dtype=int)
        e_src = np.asarray(self.embedder(sources))
        e_new = np.asarray(self.embedder(flat))
        owner_arr = np.asarray(owner)
        from bortkit.embed import cosine_similarity

        sim = cosine_similarity(e_new, e_src[owner_arr])
        counts = np.zeros(len(sources), dtype=int)
        keep = []
        for k in range(len(flat)):
            i = owner[k]
            if band[0] <= sim[k] <= band[1] and counts[i] < n_per_source:
                keep.append(k)
                counts[i] += 1
        self.last_similarity_ = sim
        self.last_acceptance_ = len(keep) / max(1, len(flat))
        return [flat[k] for k in keep], owner_arr[keep] if keep else np.zeros(0, dtype=int)


# ----------------------------------------------------------------------------- one call
@dataclass(frozen=True)
class TextRun:
    """A text Agora run: the result, the dev texts (for the viewer), test accuracy of the best
    model (None without a test split) and the optimiser steps spent over all fits."""

    result: loop.AgoraResult
    dev_texts: tuple[str, ...]
    test_accuracy: float | None
    n_steps: int

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result.to_dict(), "dev_texts": list(self.dev_texts),
                "test_accuracy": self.test_accuracy, "n_steps": self.n_steps}


def test_accuracy(learner: loop.Learner, fitted: Any, data: Any) -> float | None:
    """Test accuracy of a fitted model: its own `FinetuneResult.test`, else `learner.predict`."""
    test = getattr(fitted, "test", None)
    if test is not None:
        return float(test.get("accuracy"))
    if fitted is None or "test" not in data:
        return None
    texts, labels = split_xy(data["test"])
    return float(np.mean(learner.predict(fitted, texts)[0] == labels))


def run_text(
    data: Any, *, learner: loop.Learner, labeller: loop.Labeller, sampler: loop.Sampler,
    thetas: Sequence[Any], config: loop.AgoraConfig | None = None, seed: int = 0,
    progress: bool = True,
) -> TextRun:
    """Agora on a task `DatasetDict` (train/validation[/test]); test scored for the best model.

    `learner` is a `FinetuneLearner` (built with the same dev split) or a `HeadLearner`.
    """
    train, dev = split_xy(data["train"]), split_xy(data["validation"])
    result = loop.augment(learner, train, dev, list(thetas), sampler=sampler,
                           labeller=labeller, config=config, seed=seed, progress=progress)
    return TextRun(result, tuple(dev[0]), test_accuracy(learner, result.best_model, data),
                   int(getattr(learner, "n_steps_", 0)))


def finetune_learner(data: Any, student: Any, *, with_test: bool = True, **kwargs: Any
                     ) -> FinetuneLearner:
    """A `FinetuneLearner` whose dev (and test) splits are `data`'s validation (and test)."""
    from bortkit import finetune

    test = split_xy(data["test"]) if with_test and "test" in data else None
    return FinetuneLearner(student, dev=split_xy(data["validation"]),
                           label_names=finetune.task_labels(data), test=test, **kwargs)


# ----------------------------------------------------------------------------- experiment
def low_data_split(task: str, *, seed: int = 0, train_size: int = 300, dev_size: int = 300,
                   test_size: int = 1000, labeller_size: int = 2000) -> tuple[Any, Any]:
    """(student DatasetDict, labeller train Dataset) for a low-data run of a builtin task.

    The student gets `train_size` seeded train examples; the labeller `labeller_size` (a
    superset: the extra labelled data is what the labeller brings); dev = `dev_size` validation
    examples (seeded); test = the first `test_size` test examples (same for every seed).
    """
    import datasets

    from bortkit import data

    dd = data.load_task(task, seed=0)
    tr = dd["train"].shuffle(seed=seed)
    need = max(train_size, labeller_size)
    if len(tr) < need:
        raise ValueError(f"task {task!r} has {len(tr)} train examples < {need} requested")
    dev = dd["validation"].shuffle(seed=seed)
    student = datasets.DatasetDict(
        train=tr.select(range(train_size)), validation=dev.select(range(min(dev_size, len(dev)))),
        test=dd["test"].select(range(min(test_size, len(dd["test"])))))
    return student, tr.select(range(labeller_size))


def upstream_labeller(finetune_dir: str | os.PathLike[str]) -> str:
    """The labeller folder notebook 04 recorded in `<finetune_dir>/summary.json`, or "".

    Falls back to "" (the embedding labeller) when the folder, the summary or the model is
    missing, so notebook 05 also runs alone.
    """
    import json

    summary = Path(finetune_dir) / "summary.json"
    if not str(finetune_dir).strip() or not summary.is_file():
        return ""
    path = json.loads(summary.read_text(encoding="utf-8")).get("labeller_dir") or ""
    if path and not Path(path).is_absolute():
        path = str(Path(finetune_dir) / path) if not Path(path).exists() else path
    return path if path and (Path(path) / "config.json").is_file() else ""


@dataclass(frozen=True)
class Experiment:
    """One Agora experiment (torus or text), ready for `embed.project_rounds` and the plots."""

    kind: str  # "torus" or "text"
    result: loop.AgoraResult
    dev_points: Any  # (n, 3) array or tuple of texts
    test_accuracy: float | None
    baseline_test_accuracy: float | None  # round 0's best θ (best-of-Θ on the original train)
    embedder: Any = dataclasses.field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        dev = self.dev_points
        return {"kind": self.kind, "result": self.result.to_dict(),
                "dev_points": dev.tolist() if isinstance(dev, np.ndarray) else list(dev),
                "test_accuracy": self.test_accuracy,
                "baseline_test_accuracy": self.baseline_test_accuracy}


def run_experiment(
    *, toy: bool = False, task: str = "rt", seed: int = 0, smoke: bool = False,
    learner: str = "head", student_dir: str = "", labeller_dir: str = "",
    train_size: int = 300, dev_size: int = 300, test_size: int = 1000,
    labeller_size: int = 2000, n_thetas: int = 4, rounds: int | None = None,
    samples_per_mistake: int = 4, band: tuple[float, float] = (0.8, 0.98),
    prune: str = "half", replay: int = 0, max_mistakes: int | None = 60, epochs: int = 20,
    teacher_steps: int | None = None, progress: bool = True,
) -> Experiment:
    """The notebook's and CLI's one call: build the parts and run Agora.

    toy=True runs the torus (`bortkit.agora.torus`). Otherwise text: `low_data_split` of `task`; the
    labeller is the fine-tuned classifier in `labeller_dir` if given, else logistic regression
    on MiniLM embeddings of the labeller split; learner "head" (`HeadLearner`, MLP on frozen
    MiniLM) or "finetune" (`FinetuneLearner` on `student_dir`, default the MiniLM checkpoint);
    sampler = `MaskRefillSampler` with the teacher MLM. `smoke` shrinks every size (same path).
    """
    from bortkit import finetune

    if learner not in ("head", "finetune"):
        raise ValueError(f"learner must be 'head' or 'finetune', got {learner!r}")
    config = loop.AgoraConfig(max_rounds=rounds or None, samples_per_mistake=samples_per_mistake,
                               band=band, prune=prune, replay=replay, max_mistakes=max_mistakes)
    if toy:
        from bortkit.agora import torus as torus

        n = 60 if smoke else 200
        run = torus.run_torus(seed=seed, n_train=n, n_dev=n, n_test=500 if smoke else 2000,
                              thetas=torus.torus_thetas(n_thetas), config=config,
                              progress=progress)
        return Experiment("torus", run.result, run.data.dev_x, run.test_accuracy,
                          run.baseline_test_accuracy)
    from bortkit.embed import SentenceEmbedder, _minilm_dir
    from bortkit.pretrain import teacher

    if smoke:  # tiny sizes, same code path (the notebook's smoke run must take < 60 s)
        train_size, dev_size, test_size, labeller_size = 32, 32, 32, 96
        epochs, n_thetas = min(epochs, 5), min(n_thetas, 2)
        config = dataclasses.replace(config, samples_per_mistake=min(samples_per_mistake, 2),
                                     max_mistakes=8)
    student, lab = low_data_split(task, seed=seed, train_size=train_size, dev_size=dev_size,
                                  test_size=test_size, labeller_size=labeller_size)
    names = finetune.task_labels(student)
    embedder = SentenceEmbedder(max_length=64)
    mlm, tok = teacher.load_teacher(smoke=smoke, steps=teacher_steps, progress=progress)
    sampler = MaskRefillSampler(mlm, tok, embedder=embedder, max_tries=2 if smoke else 3)
    labeller_obj = (TextLabeller(labeller_dir) if labeller_dir
                    else EmbeddingLabeller(embedder, lab["text"], lab["label"]))
    if learner == "head":
        thetas = make_grid(seeds=tuple(range(max(1, (n_thetas + 1) // 2))),
                                    lrs=(1e-3, 3e-3), weight_decays=(0.01,))[:n_thetas]
        fit = HeadLearner(embedder, n_labels=len(names), epochs=epochs)
    else:
        source: Any = student_dir or _minilm_dir()
        if smoke and not student_dir:
            from bortkit.arch import ArchSpec

            source = ArchSpec(2, 2, 32, 64, max_position_embeddings=128)
        thetas = theta_grid("smoke" if smoke else "cpu")[:n_thetas]
        fit = finetune_learner(student, source, epochs=1 if smoke else 3, tokenizer=tok)
    run = run_text(student, learner=fit, labeller=labeller_obj, sampler=sampler, thetas=thetas,
                   config=config, seed=seed, progress=progress)
    base = None
    if isinstance(fit, HeadLearner):  # round 0's best θ, refitted on the original train set
        th = {loop.theta_label(t): t for t in thetas}[run.result.rounds[0].best_theta]
        base = test_accuracy(fit, fit.fit(*split_xy(student["train"]), th, seed=seed), student)
    return Experiment("text", run.result, run.dev_texts, run.test_accuracy, base, embedder)


__all__ = [
    "EmbeddingLabeller",
    "Experiment",
    "FinetuneLearner",
    "HeadLearner",
    "MaskRefillSampler",
    "low_data_split",
    "run_experiment",
    "TextLabeller",
    "TextRun",
    "finetune_learner",
    "run_text",
    "test_accuracy",
    "split_xy",
    "train_labeller",
    "upstream_labeller",
]
