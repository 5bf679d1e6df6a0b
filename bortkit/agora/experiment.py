"""Agora on a text task, assembled: the splits, the parts, the run (and its control), the record.

`run_agora(task, TextAgoraConfig(...))` is the CLI's one call (notebook 05 makes the same calls
one cell at a time): `low_data_split` gives the student a small train set and the labeller a
larger one, `split_dev` cuts dev into dev-A (θ's, mistakes) and dev-B (the final choice);
`build_labeller`, `build_sampler` and `build_learner` make the parts; `run_text` runs
`bortkit.agora.loop.augment` and scores the chosen model, and round 0's (plain fine-tuning on
gold, same steps per fit), on test once each; with ``control=True`` the same parts run again
sampling around random train points, adding as many points per round (`run_control`). Smoke
sizes live in `TextAgoraConfig.smoke()` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from bortkit.agora import loop
from bortkit.agora.labellers import EmbeddingLabeller, TextLabeller, check_labeller
from bortkit.agora.learners import (
    LEARNER_CONFIG,
    HeadLearner,
    finetune_learner,
    split_xy,
    test_accuracy,
)
from bortkit.agora.pool import PoolConfig, build_pool, pool_embeddings
from bortkit.agora.records import AgoraConfig, AgoraResult
from bortkit.agora.samplers import MaskRefillSampler, MixedSampler, PoolSampler
from bortkit.agora.splits import low_data_split, split_dev
from bortkit.agora.student import StudentConfig, StudentLearner
from bortkit.arch import ArchSpec, parse_spec
from bortkit.embed import SentenceEmbedder
from bortkit.finetune.engine import task_labels
from bortkit.finetune.records import FinetuneConfig
from bortkit.pretrain.teacher import TeacherConfig, load_teacher, minilm_dir
from bortkit.records import (
    Record,
    check_bool,
    check_choice,
    check_float,
    check_positive_int,
)
from bortkit.theta import THETA_PRESETS, Theta, make_grid, theta_grid

LEARNERS = ("student", "head", "finetune")
SAMPLERS = ("mask-refill", "pool", "both")
EMBED_MAX_LENGTH = 64  # tokens: the sentences of the builtin tasks are short
#: The student shape when no pretrained student is given (random init): D2-A4-H128-I512, 0.41 M
#: effective parameters (3.8% of MiniLM's 10.79 M), the miniature benchmark's default shape.
STUDENT_SHAPE = "2,4,128,512"


@dataclass(frozen=True)
class TextAgoraConfig(Record):
    """Everything that defines a text Agora run (the task and the seed are arguments).

    Args:
        learner: "student" (`StudentLearner`: the extracted student, fine-tuned per θ for a
            fixed number of steps; the default), "head" (`HeadLearner`, an MLP on frozen
            MiniLM; seconds per fit) or "finetune" (`FinetuneLearner`, the HF Trainer on the
            whole model; minutes per fit on 2 cores).
        student_dir: the student checkpoint (notebook 03's `PretrainResult.model_dir`);
            "": `student_spec` at random initialisation.
        student_spec: the random-init student when `student_dir` is empty (None: the
            `STUDENT_SHAPE` for "student", the shipped MiniLM checkpoint for "finetune").
        labeller_dir: a fine-tuned classifier folder (`TextLabeller`, notebook 04's MiniLM);
            "": logistic regression on MiniLM embeddings of the labeller split.
        train_size, dev_size, test_size: the student's splits (see `low_data_split`).
        labeller_size: labelled examples the embedding labeller is trained on.
        select_fraction: the share of dev held out as dev-B, the selection slice that chooses
            the final round (0: choose on dev-A, the first build's behaviour; the "finetune"
            learner predicts only its own dev split and needs 0).
        n_thetas: |Θ|.
        head_epochs: epochs per fit of the head learner.
        theta_preset: the finetune learner's Θ (`bortkit.theta.THETA_PRESETS`).
        finetune: the finetune learner's run settings.
        student: the student learner's settings (steps per fit, pooling, soft labels).
        sampler: "mask-refill" (the teacher MLM), "pool" (real unlabelled sentences) or "both".
        pool: the pool sampler's sentences (`bortkit.agora.pool.PoolConfig`).
        max_tries: the samplers' proposals per wanted sample.
        teacher: the teacher MLM the sampler refills with (`bortkit.pretrain.teacher`).
        control: also run the random-source control with as many points per round.
        agora: the loop's settings.
    """

    learner: str = "student"
    student_dir: str = ""
    student_spec: ArchSpec | None = None
    labeller_dir: str = ""
    train_size: int = 300
    dev_size: int = 400
    test_size: int = 1000
    labeller_size: int = 2000
    select_fraction: float = 0.5
    n_thetas: int = 2
    head_epochs: int = 20
    theta_preset: str = "cpu"
    finetune: FinetuneConfig = field(default_factory=lambda: LEARNER_CONFIG)
    student: StudentConfig = field(default_factory=StudentConfig)
    sampler: str = "both"
    pool: PoolConfig = field(default_factory=PoolConfig)
    max_tries: int = 3
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    control: bool = False
    agora: AgoraConfig = field(default_factory=lambda: AgoraConfig(max_mistakes=60))

    def __post_init__(self) -> None:
        check_choice("TextAgoraConfig.learner", self.learner, LEARNERS)
        for name in ("train_size", "dev_size", "test_size", "labeller_size", "n_thetas",
                     "head_epochs", "max_tries"):
            check_positive_int(f"TextAgoraConfig.{name}", getattr(self, name))
        check_float("TextAgoraConfig.select_fraction", self.select_fraction, low=0.0, high=1.0,
                    high_open=True)
        if self.learner == "finetune" and self.select_fraction > 0:
            raise ValueError(f"TextAgoraConfig.select_fraction={self.select_fraction}: the "
                             "learner 'finetune' predicts only its own dev split; use "
                             "select_fraction=0 or learner='student'")
        check_choice("TextAgoraConfig.theta_preset", self.theta_preset, THETA_PRESETS)
        check_choice("TextAgoraConfig.sampler", self.sampler, SAMPLERS)
        check_bool("TextAgoraConfig.control", self.control)
        for name, cls in (("finetune", FinetuneConfig), ("student", StudentConfig),
                          ("pool", PoolConfig), ("teacher", TeacherConfig),
                          ("agora", AgoraConfig)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"TextAgoraConfig.{name} must be a {cls.__name__}, got "
                                f"{getattr(self, name)!r}")

    @classmethod
    def smoke(cls, **changes: Any) -> TextAgoraConfig:
        """The same path at tiny sizes (notebook 05's smoke run takes well under a minute):
        32 train texts, 48 dev (24 dev-A, 24 dev-B), 32 test, 96 for the labeller; 2 θ's of a
        D2-H32 random student (4 steps; or 5 head epochs, or 1 fine-tuning epoch), the 5-step
        smoke teacher, a 400-sentence pool, 2 samples around at most 8 mistakes."""
        smoke = dict(train_size=32, dev_size=48, test_size=32, labeller_size=96, n_thetas=2,
                     head_epochs=5, theta_preset="smoke",
                     student_spec=ArchSpec(num_hidden_layers=2, num_attention_heads=2,
                                          hidden_size=32, intermediate_size=64,
                                          max_position_embeddings=128),
                     finetune=FinetuneConfig(epochs=1, patience=None),
                     student=StudentConfig.smoke(), pool=PoolConfig.smoke(), max_tries=2,
                     teacher=TeacherConfig.smoke(), agora=AgoraConfig.smoke())
        if changes.get("learner") == "finetune":
            smoke["select_fraction"] = 0.0  # it predicts only its own dev split
        return cls(**{**smoke, **changes})

    def with_device(self, device: str) -> TextAgoraConfig:
        """This config with both learners (student, finetune) training on `device`."""
        return self.replace(student=self.student.replace(device=device),
                            finetune=self.finetune.replace(device=device))


@dataclass(frozen=True)
class TextRun(Record):
    """A text Agora run and, when asked for, its random-source control.

    Attributes:
        result: the Agora run (`AgoraResult`).
        dev_texts: dev-A (the viewer's points); `select_texts` dev-B; `train_texts` the
            initial (gold) train set (the control's sources index it).
        test_accuracy: test accuracy of the chosen model (None without a test split).
        n_steps: optimiser steps over all of the run's fits.
        baseline_test_accuracy: round 0's best θ (plain fine-tuning on gold, same steps per
            fit), on test.
        labeller_test_accuracy: the labeller on test.
        control: the control run (sources = random train points, same points per round).
        control_test_accuracy, control_n_steps: its chosen model on test, its steps.
    """

    result: AgoraResult
    dev_texts: tuple[str, ...]
    test_accuracy: float | None
    n_steps: int
    baseline_test_accuracy: float | None = None
    select_texts: tuple[str, ...] = ()
    train_texts: tuple[str, ...] = ()
    labeller_test_accuracy: float | None = None
    control: AgoraResult | None = None
    control_test_accuracy: float | None = None
    control_n_steps: int | None = None


def build_labeller(labeller_dir: str | os.PathLike[str], *, embedder: Any, data: Any,
                   label_names: Sequence[str] | None = None) -> loop.Labeller:
    """`TextLabeller(labeller_dir)` when a folder is given, else an `EmbeddingLabeller`
    trained on `data` (the labeller split of `low_data_split`).

    Raises:
        ValueError: with `label_names`, a labeller whose label set differs from them
            (`check_labeller`).
    """
    if str(labeller_dir).strip():
        labeller: Any = TextLabeller(labeller_dir)
    else:
        labeller = EmbeddingLabeller(embedder, data["text"], data["label"],
                                     label_names=label_names)
    return labeller if label_names is None else check_labeller(labeller, label_names)


def build_sampler(config: TextAgoraConfig, *, mlm: Any, tokenizer: Any, embedder: Any,
                  pool: Sequence[str] | None = None) -> loop.Sampler:
    """The sampler `config.sampler` names: mask-and-refill with `mlm`, the pool sampler over
    `pool` (default: `build_pool(config.pool)`, embeddings cached), or both."""
    parts: list[Any] = []
    if config.sampler in ("mask-refill", "both"):
        parts.append(MaskRefillSampler(mlm, tokenizer, embedder=embedder,
                                       max_tries=config.max_tries))
    if config.sampler in ("pool", "both"):
        emb = None
        if pool is None:
            built = build_pool(config.pool)
            pool, emb = built.texts, pool_embeddings(built, embedder)
        parts.append(PoolSampler(pool, embedder=embedder, max_tries=config.max_tries,
                                 pool_embeddings=emb))
    return parts[0] if len(parts) == 1 else MixedSampler(parts)


def head_thetas(n_thetas: int) -> tuple[Theta, ...]:
    """The head learner's Θ: seeds × lr ∈ {1e-3, 3e-3} (wd 0.01), the first `n_thetas`."""
    seeds = tuple(range(max(1, (n_thetas + 1) // 2)))
    return make_grid(seeds=seeds, lrs=(1e-3, 3e-3), weight_decays=(0.01,))[:n_thetas]


def student_thetas(n_thetas: int) -> tuple[Theta, ...]:
    """The student learner's Θ: lr ∈ {1e-3, 3e-4} × seeds (wd 0.01, warm-up 0.1, batch 32),
    the first `n_thetas` (project choice: a small student fine-tunes at lrs ~10× BERT's)."""
    seeds = tuple(range(max(1, (n_thetas + 1) // 2)))
    grid = make_grid(seeds=seeds, lrs=(1e-3, 3e-4), weight_decays=(0.01,), batch_sizes=(32,))
    return grid[:n_thetas]


def build_learner(config: TextAgoraConfig, data: Any, *, embedder: Any, tokenizer: Any = None,
                  labeller: Any = None) -> tuple[loop.Learner, tuple[Theta, ...]]:
    """The learner `config.learner` names and its Θ, for the student splits `data`.

    The student learner distils the `labeller`'s probabilities on the points it labels when
    ``config.student.soft_labels`` (gold = ``data["train"]``'s texts keep hard labels).
    """
    if config.learner == "head":
        learner: loop.Learner = HeadLearner(embedder, n_labels=len(task_labels(data)),
                                            epochs=config.head_epochs)
        return learner, head_thetas(config.n_thetas)
    if config.learner == "student":
        source: Any = (config.student_dir or config.student_spec
                       or parse_spec(STUDENT_SHAPE).replace(max_position_embeddings=128))
        soft = getattr(labeller, "probs", None) if config.student.soft_labels else None
        if config.student.soft_labels and soft is None:
            raise ValueError("student.soft_labels needs a labeller with probs() (TextLabeller "
                             "or EmbeddingLabeller)")
        learner = StudentLearner(source, label_names=task_labels(data), tokenizer=tokenizer,
                                 gold_texts=data["train"]["text"], soft_targets=soft,
                                 config=config.student)
        return learner, student_thetas(config.n_thetas)
    source = config.student_dir or config.student_spec or minilm_dir()
    learner = finetune_learner(data, source, config=config.finetune, tokenizer=tokenizer)
    return learner, theta_grid(config.theta_preset)[:config.n_thetas]


def run_text(
    data: Any, *, learner: loop.Learner, labeller: loop.Labeller, sampler: loop.Sampler,
    thetas: Sequence[Any], config: AgoraConfig | None = None, seed: int = 0,
    progress: bool = True, checkpoint_dir: str | os.PathLike[str] | None = None,
    select: Any = None, control: bool = False,
) -> TextRun:
    """Agora on a task `DatasetDict` (train/validation[/test]); test read once per model.

    Args:
        data: the student's splits; "validation" is dev-A (θ's and mistakes).
        learner, labeller, sampler, thetas: the parts (`build_learner`, `build_labeller`,
            `build_sampler`). A `FinetuneLearner` must be built with the same dev split.
        config: the loop's settings.
        seed: the loop's seed.
        progress: progress bars.
        checkpoint_dir: record each finished round there (the control's in ``control/``); a
            rerun resumes after the last finished round (`bortkit.agora.resume`).
        select: dev-B (a `datasets.Dataset`), the slice that chooses the final round; None:
            chosen on dev-A.
        control: also run the random-source control, matching the points added per round.
    """
    config = config or AgoraConfig()
    train, dev = split_xy(data["train"]), split_xy(data["validation"])
    sel = None if select is None else split_xy(select)
    steps0 = int(getattr(learner, "n_steps_", 0))
    result = loop.augment(learner, train, dev, list(thetas), sampler=sampler,
                          labeller=labeller, config=config, seed=seed, progress=progress,
                          checkpoint_dir=checkpoint_dir, select=sel)
    n_steps = int(getattr(learner, "n_steps_", 0)) - steps0
    run = TextRun(result, tuple(dev[0]), test_accuracy(learner, result.best_model, data),
                  n_steps, baseline_test_accuracy=test_accuracy(learner, result.round0_model,
                                                                data),
                  select_texts=() if sel is None else tuple(sel[0]), train_texts=tuple(train[0]),
                  labeller_test_accuracy=_labeller_accuracy(labeller, data))
    if not control:
        return run
    return run_control(run, data, learner=learner, labeller=labeller, sampler=sampler,
                       thetas=thetas, config=config, seed=seed, progress=progress,
                       checkpoint_dir=None if checkpoint_dir is None
                       else os.path.join(checkpoint_dir, "control"), select=select)


def run_control(run: TextRun, data: Any, *, learner: loop.Learner, labeller: loop.Labeller,
                sampler: loop.Sampler, thetas: Sequence[Any], config: AgoraConfig,
                seed: int = 0, progress: bool = True,
                checkpoint_dir: str | os.PathLike[str] | None = None,
                select: Any = None) -> TextRun:
    """`run` with its control: the same parts, Θ, seed and selection, sampling around random
    initial-train points and adding exactly as many points per round (`augment(match=...)`);
    with the student learner every fit takes the same steps, so the runs train equally long."""
    train, dev = split_xy(data["train"]), split_xy(data["validation"])
    sel = None if select is None else split_xy(select)
    steps0 = int(getattr(learner, "n_steps_", 0))
    result = loop.augment(learner, train, dev, list(thetas), sampler=sampler,
                          labeller=labeller, config=config.replace(source="random"), seed=seed,
                          progress=progress, checkpoint_dir=checkpoint_dir, select=sel,
                          match=run.result.added_per_round)
    return run.replace(control=result,
                       control_test_accuracy=test_accuracy(learner, result.best_model, data),
                       control_n_steps=int(getattr(learner, "n_steps_", 0)) - steps0)


def _labeller_accuracy(labeller: loop.Labeller, data: Any) -> float | None:
    if "test" not in data:
        return None
    texts, labels = split_xy(data["test"])
    return float(np.mean(np.asarray(labeller.label(texts)[0]) == labels))


def round0_test_accuracy(learner: loop.Learner, result: AgoraResult, data: Any,
                         thetas: Sequence[Any], *, seed: int = 0) -> float | None:
    """Test accuracy of round 0's best θ refitted on the original train set: plain best-of-Θ
    fine-tuning (`TextRun.baseline_test_accuracy` reads `result.round0_model` instead)."""
    theta = {loop.theta_label(t): t for t in thetas}[result.rounds[0].best_theta]
    return test_accuracy(learner, learner.fit(*split_xy(data["train"]), theta, seed=seed), data)


def run_agora(task: str, config: TextAgoraConfig = TextAgoraConfig(), *, seed: int = 0,
              embedder: Any = None, progress: bool = True,
              checkpoint_dir: str | os.PathLike[str] | None = None) -> TextRun:
    """Agora on the builtin `task`: split, parts, loop (and control), test accuracies.

    Args:
        task: a builtin task name (rt, imdb, bbc, tweets, sms).
        config: sizes, learner, labeller, sampler, the loop's settings
            (`TextAgoraConfig.smoke()` for tests).
        seed: the data split, the sampler and the loop.
        embedder: MiniLM sentence embeddings shared by the parts (default: a new caching
            `SentenceEmbedder`); pass one to reuse its cache for projections.
        progress: show progress bars.
        checkpoint_dir: record each finished round there; a killed run resumes after its last
            finished round when rerun with the same arguments.
    """
    student, labeller_data = low_data_split(
        task, seed=seed, train_size=config.train_size, dev_size=config.dev_size,
        test_size=config.test_size, labeller_size=config.labeller_size)
    dev_a, dev_b = split_dev(student, config.select_fraction, seed=seed)
    student["validation"] = dev_a
    embedder = embedder if embedder is not None else SentenceEmbedder(
        max_length=EMBED_MAX_LENGTH)
    mlm, tokenizer = load_teacher(config.teacher, progress=progress)
    labeller = build_labeller(config.labeller_dir, embedder=embedder, data=labeller_data,
                              label_names=task_labels(student))
    sampler = build_sampler(config, mlm=mlm, tokenizer=tokenizer, embedder=embedder)
    learner, thetas = build_learner(config, student, embedder=embedder, tokenizer=tokenizer,
                                    labeller=labeller)
    return run_text(student, learner=learner, labeller=labeller, sampler=sampler, thetas=thetas,
                    config=config.agora, seed=seed, progress=progress,
                    checkpoint_dir=checkpoint_dir, select=dev_b, control=config.control)


__all__ = [
    "EMBED_MAX_LENGTH",
    "LEARNERS",
    "SAMPLERS",
    "STUDENT_SHAPE",
    "TextAgoraConfig",
    "TextRun",
    "build_labeller",
    "build_learner",
    "build_sampler",
    "head_thetas",
    "round0_test_accuracy",
    "run_agora",
    "run_control",
    "run_text",
    "student_thetas",
]
