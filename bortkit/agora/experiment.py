"""Agora on a text task, assembled: the low-data split, the parts, the run, and its record.

`run_agora(task, TextAgoraConfig(...))` is the CLI's one call (notebook 05 makes the same calls
one cell at a time): `low_data_split` gives the student a small train set and the labeller a
larger one; `build_labeller`, `MaskRefillSampler` (`bortkit.agora.samplers`) and
`build_learner` make the parts; `run_text` runs `bortkit.agora.loop.augment` and scores the best
model on test; `round0_test_accuracy` is the baseline (round 0's best θ on the original train
set, i.e. plain best-of-Θ fine-tuning). Smoke sizes live in `TextAgoraConfig.smoke()` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from bortkit.agora import loop
from bortkit.agora.labellers import EmbeddingLabeller, TextLabeller
from bortkit.agora.learners import (
    LEARNER_CONFIG,
    HeadLearner,
    finetune_learner,
    split_xy,
    test_accuracy,
)
from bortkit.agora.records import AgoraConfig, AgoraResult
from bortkit.agora.samplers import MaskRefillSampler
from bortkit.arch import ArchSpec
from bortkit.data.tasks import load_task
from bortkit.embed import SentenceEmbedder
from bortkit.finetune.engine import task_labels
from bortkit.finetune.records import FinetuneConfig
from bortkit.pretrain.teacher import TeacherConfig, load_teacher, minilm_dir
from bortkit.records import Record, check_choice, check_positive_int
from bortkit.theta import THETA_PRESETS, Theta, make_grid, theta_grid

LEARNERS = ("head", "finetune")
EMBED_MAX_LENGTH = 64  # tokens: the sentences of the builtin tasks are short


@dataclass(frozen=True)
class TextAgoraConfig(Record):
    """Everything that defines a text Agora run (the task and the seed are arguments).

    Args:
        learner: "head" (`HeadLearner`, an MLP on frozen MiniLM; seconds per fit) or
            "finetune" (`FinetuneLearner`, the whole student; minutes per fit on 2 cores).
        student_dir: the finetune learner's student checkpoint ("" : `student_spec`).
        student_spec: the finetune learner's random-init student when `student_dir` is empty
            (None: the shipped MiniLM checkpoint).
        labeller_dir: a fine-tuned classifier folder (`TextLabeller`); "" : logistic regression
            on MiniLM embeddings of the labeller split (`EmbeddingLabeller`).
        train_size, dev_size, test_size: the student's splits (see `low_data_split`).
        labeller_size: labelled examples the embedding labeller is trained on.
        n_thetas: |Θ|.
        head_epochs: epochs per fit of the head learner.
        theta_preset: the finetune learner's Θ (`bortkit.theta.THETA_PRESETS`).
        finetune: the finetune learner's run settings.
        max_tries: the sampler's proposals per wanted sample.
        teacher: the teacher MLM the sampler refills with (`bortkit.pretrain.teacher`).
        agora: the loop's settings.
    """

    learner: str = "head"
    student_dir: str = ""
    student_spec: ArchSpec | None = None
    labeller_dir: str = ""
    train_size: int = 300
    dev_size: int = 300
    test_size: int = 1000
    labeller_size: int = 2000
    n_thetas: int = 4
    head_epochs: int = 20
    theta_preset: str = "cpu"
    finetune: FinetuneConfig = field(default_factory=lambda: LEARNER_CONFIG)
    max_tries: int = 3
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    agora: AgoraConfig = field(default_factory=lambda: AgoraConfig(max_mistakes=60))

    def __post_init__(self) -> None:
        check_choice("TextAgoraConfig.learner", self.learner, LEARNERS)
        for name in ("train_size", "dev_size", "test_size", "labeller_size", "n_thetas",
                     "head_epochs", "max_tries"):
            check_positive_int(f"TextAgoraConfig.{name}", getattr(self, name))
        check_choice("TextAgoraConfig.theta_preset", self.theta_preset, THETA_PRESETS)
        if not isinstance(self.finetune, FinetuneConfig):
            raise TypeError(f"TextAgoraConfig.finetune must be a FinetuneConfig, got "
                            f"{self.finetune!r}")
        if not isinstance(self.teacher, TeacherConfig):
            raise TypeError(f"TextAgoraConfig.teacher must be a TeacherConfig, got "
                            f"{self.teacher!r}")
        if not isinstance(self.agora, AgoraConfig):
            raise TypeError(f"TextAgoraConfig.agora must be an AgoraConfig, got {self.agora!r}")

    @classmethod
    def smoke(cls, **changes: Any) -> TextAgoraConfig:
        """The same path at tiny sizes (notebook 05's smoke run takes well under a minute):
        32 train/dev/test texts, 96 for the labeller, 2 θ's of 5 head epochs (or 1 fine-tuning
        epoch of a D2-H32 random student), the 5-step smoke teacher, 2 samples around at most
        8 mistakes."""
        smoke = dict(train_size=32, dev_size=32, test_size=32, labeller_size=96, n_thetas=2,
                     head_epochs=5, theta_preset="smoke",
                     student_spec=ArchSpec(num_hidden_layers=2, num_attention_heads=2,
                                          hidden_size=32, intermediate_size=64,
                                          max_position_embeddings=128),
                     finetune=FinetuneConfig(epochs=1, patience=None), max_tries=2,
                     teacher=TeacherConfig.smoke(), agora=AgoraConfig.smoke())
        return cls(**{**smoke, **changes})


@dataclass(frozen=True)
class TextRun(Record):
    """A text Agora run: the result, the dev texts (for the viewer), test accuracy of the best
    model (None without a test split), the optimiser steps spent over all fits, and the
    round-0 baseline's test accuracy when it was measured (`round0_test_accuracy`)."""

    result: AgoraResult
    dev_texts: tuple[str, ...]
    test_accuracy: float | None
    n_steps: int
    baseline_test_accuracy: float | None = None


def low_data_split(task: str, *, seed: int = 0, train_size: int = 300, dev_size: int = 300,
                   test_size: int = 1000, labeller_size: int = 2000) -> tuple[Any, Any]:
    """(student DatasetDict, labeller train Dataset) for a low-data run of a builtin task.

    The student gets `train_size` seeded train examples; the labeller `labeller_size` (a
    superset: the extra labelled data is what the labeller brings); dev = `dev_size` validation
    examples (seeded); test = the first `test_size` test examples (same for every seed).
    """
    import datasets

    dd = load_task(task, seed=0)
    tr = dd["train"].shuffle(seed=seed)
    need = max(train_size, labeller_size)
    if len(tr) < need:
        raise ValueError(f"task {task!r} has {len(tr)} train examples < {need} requested")
    dev = dd["validation"].shuffle(seed=seed)
    student = datasets.DatasetDict(
        train=tr.select(range(train_size)), validation=dev.select(range(min(dev_size, len(dev)))),
        test=dd["test"].select(range(min(test_size, len(dd["test"])))))
    return student, tr.select(range(labeller_size))


def build_labeller(labeller_dir: str | os.PathLike[str], *, embedder: Any,
                   data: Any) -> loop.Labeller:
    """`TextLabeller(labeller_dir)` when a folder is given, else an `EmbeddingLabeller`
    trained on `data` (the labeller split of `low_data_split`)."""
    if str(labeller_dir).strip():
        return TextLabeller(labeller_dir)
    return EmbeddingLabeller(embedder, data["text"], data["label"])


def head_thetas(n_thetas: int) -> tuple[Theta, ...]:
    """The head learner's Θ: seeds × lr ∈ {1e-3, 3e-3} (wd 0.01), the first `n_thetas`."""
    seeds = tuple(range(max(1, (n_thetas + 1) // 2)))
    return make_grid(seeds=seeds, lrs=(1e-3, 3e-3), weight_decays=(0.01,))[:n_thetas]


def build_learner(config: TextAgoraConfig, data: Any, *, embedder: Any,
                  tokenizer: Any = None) -> tuple[loop.Learner, tuple[Theta, ...]]:
    """The learner `config.learner` names and its Θ, for the student splits `data`."""
    if config.learner == "head":
        learner: loop.Learner = HeadLearner(embedder, n_labels=len(task_labels(data)),
                                            epochs=config.head_epochs)
        return learner, head_thetas(config.n_thetas)
    source: Any = config.student_dir or config.student_spec or minilm_dir()
    learner = finetune_learner(data, source, config=config.finetune, tokenizer=tokenizer)
    return learner, theta_grid(config.theta_preset)[:config.n_thetas]


def run_text(
    data: Any, *, learner: loop.Learner, labeller: loop.Labeller, sampler: loop.Sampler,
    thetas: Sequence[Any], config: AgoraConfig | None = None, seed: int = 0,
    progress: bool = True, checkpoint_dir: str | os.PathLike[str] | None = None,
) -> TextRun:
    """Agora on a task `DatasetDict` (train/validation[/test]); test scored for the best model.

    `learner` is a `FinetuneLearner` (built with the same dev split) or a `HeadLearner`.
    With `checkpoint_dir`, each finished round is recorded there and a rerun resumes after the
    last one (`bortkit.agora.resume`).
    """
    train, dev = split_xy(data["train"]), split_xy(data["validation"])
    result = loop.augment(learner, train, dev, list(thetas), sampler=sampler,
                          labeller=labeller, config=config, seed=seed, progress=progress,
                          checkpoint_dir=checkpoint_dir)
    return TextRun(result, tuple(dev[0]), test_accuracy(learner, result.best_model, data),
                   int(getattr(learner, "n_steps_", 0)))


def round0_test_accuracy(learner: loop.Learner, result: AgoraResult, data: Any,
                         thetas: Sequence[Any], *, seed: int = 0) -> float | None:
    """Test accuracy of round 0's best θ refitted on the original train set: plain best-of-Θ
    fine-tuning, the baseline Agora is compared with."""
    theta = {loop.theta_label(t): t for t in thetas}[result.rounds[0].best_theta]
    return test_accuracy(learner, learner.fit(*split_xy(data["train"]), theta, seed=seed), data)


def run_agora(task: str, config: TextAgoraConfig = TextAgoraConfig(), *, seed: int = 0,
              embedder: Any = None, progress: bool = True,
              checkpoint_dir: str | os.PathLike[str] | None = None) -> TextRun:
    """Agora on the builtin `task`: split, parts, loop, test accuracy, round-0 baseline.

    Args:
        task: a builtin task name (rt, imdb, bbc, tweets, sms).
        config: sizes, learner, labeller, the loop's settings (`TextAgoraConfig.smoke()` for
            tests).
        seed: the data split, the sampler and the loop.
        embedder: MiniLM sentence embeddings shared by the parts (default: a new caching
            `SentenceEmbedder`); pass one to reuse its cache for projections.
        progress: show progress bars.
        checkpoint_dir: record each finished round there; a killed run resumes after its last
            finished round when rerun with the same arguments.

    The baseline is measured for the head learner only: refitting a whole fine-tuned student
    would double the run's cost.
    """
    student, labeller_data = low_data_split(
        task, seed=seed, train_size=config.train_size, dev_size=config.dev_size,
        test_size=config.test_size, labeller_size=config.labeller_size)
    embedder = embedder if embedder is not None else SentenceEmbedder(
        max_length=EMBED_MAX_LENGTH)
    mlm, tokenizer = load_teacher(config.teacher, progress=progress)
    sampler = MaskRefillSampler(mlm, tokenizer, embedder=embedder, max_tries=config.max_tries)
    labeller = build_labeller(config.labeller_dir, embedder=embedder, data=labeller_data)
    learner, thetas = build_learner(config, student, embedder=embedder, tokenizer=tokenizer)
    run = run_text(student, learner=learner, labeller=labeller, sampler=sampler, thetas=thetas,
                   config=config.agora, seed=seed, progress=progress,
                   checkpoint_dir=checkpoint_dir)
    if not isinstance(learner, HeadLearner):
        return run
    return run.replace(baseline_test_accuracy=round0_test_accuracy(
        learner, run.result, student, thetas, seed=seed))


__all__ = [
    "EMBED_MAX_LENGTH",
    "LEARNERS",
    "TextAgoraConfig",
    "TextRun",
    "build_labeller",
    "build_learner",
    "head_thetas",
    "low_data_split",
    "round0_test_accuracy",
    "run_agora",
    "run_text",
]
