"""The records of "Bort in miniature" (`bortkit.agora.miniature` runs it): what defines a run
(`MiniatureConfig`), what it measured (`LatencyPair`, `ArmRun`, `MiniatureResult`) and the
goals of issue 15 (`MiniatureResult.goals`)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bortkit.agora.experiment import STUDENT_SHAPE, TextAgoraConfig
from bortkit.agora.records import AgoraConfig
from bortkit.agora.student import StudentConfig
from bortkit.arch import ArchSpec, parse_spec
from bortkit.data.tasks import TASKS
from bortkit.finetune.records import FinetuneConfig
from bortkit.pretrain.cache import CacheConfig
from bortkit.pretrain.records import PretrainConfig
from bortkit.pretrain.teacher import TeacherConfig
from bortkit.records import (
    Record,
    check_choice,
    check_float,
    check_positive,
    check_positive_int,
)
from bortkit.search.pick import PICKS
from bortkit.theta import Theta

# "no-agora" comes free: round 0 of "agora"
ARMS = ("agora", "control", "no-kd", "pool-distill")
KD_ROUTES = ("cache", "live")


def _default_agora() -> TextAgoraConfig:
    # Sized for ~30 minutes on the shared 2-core machine (every MiniLM pass is the cost: the
    # labeller and the mask-and-refill MLM are MiniLM-sized): 1,000 gold, dev 200 + 200.
    return TextAgoraConfig(train_size=1000, dev_size=400, test_size=1000, labeller_size=1000,
                           n_thetas=2, max_tries=2, student=StudentConfig(steps=150),
                           agora=AgoraConfig(max_mistakes=30, samples_per_mistake=4))


@dataclass(frozen=True)
class MiniatureConfig(Record):
    """Everything that defines a miniature run (sizes for ~30 minutes on 2 busy cores).

    Args:
        task: a builtin task.
        seeds: the seeds of the fine-tuning arms (θ seeds, sampler, loop); the data split, the
            teacher and the KD pretraining are shared by all seeds.
        student_shape: "D,A,H,I" of the student when `fptas_dir` is empty.
        fptas_dir: an FPTAS output folder the student's shape comes from (see `fptas_pick`).
        fptas_pick: "budget" (default: `budget_pick` on the run's trained candidates) or "w"
            (the run's argmax-W choice).
        size_budget: the largest effective (non-embedding) size of the student, as a fraction
            of the teacher's (issue 15's goal: 0.20).
        min_ops_ratio: the smallest teacher/student op-count ratio at 128 tokens (project
            choice: 10 = twice the 5× speed goal, because the measured CPU speed-up of the
            first miniature's student was 0.61-1.05 of its op-count ratio).
        teacher: the teacher MLM build (KD pretraining, mask-and-refill).
        teacher_dir: a built teacher MLM folder (`RestrictedBertForMaskedLM`); wins over
            `teacher` (e.g. a longer build someone already paid for).
        pretrain: the KD pretraining run (project choice, measured in docs/results.md: on the
            cache route KD at T = 1 with the KL alone beats Bort's 0.1·CE + 0.5·T²·KL at T = 2,
            whose renormalised top-k targets are flat).
        kd_route: "cache" (default: teacher outputs from the teacher-output cache of
            `teacher`) or "live" (the teacher's forward pass every step; used whenever
            `teacher_dir` is given, since the cache is keyed by the teacher's build settings).
        cache: the teacher-output cache's settings for the "cache" route (its `teacher` is
            replaced by `teacher`; `seq_len` must equal the pretraining's).
        classifier_theta, classifier: the teacher classifier's fine-tuning (θ and run).
        agora: the student's splits, learner, samplers, pool and loop (`TextAgoraConfig`;
            `labeller_size` is ignored: the teacher classifier, trained on the same gold, is
            the labeller).
        arms: which of `ARMS` to run ("agora" always; "no-agora" is its round 0;
            "pool-distill" is task distillation on `pool_distill_size` random pool sentences
            labelled by the labeller, no mistakes, at the agora arm's training steps).
        pool_distill_size: pool sentences the "pool-distill" arm adds to the gold train set.
        latency_batches, latency_seqs: the latency grid.
        latency_repeats, latency_warmup, latency_threads: the profiler's settings.
    """

    task: str = "rt"
    seeds: tuple[int, ...] = (0, 1, 2)
    student_shape: str = STUDENT_SHAPE
    fptas_dir: str = ""
    fptas_pick: str = "budget"
    size_budget: float = 0.20
    min_ops_ratio: float = 10.0
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    teacher_dir: str = ""
    pretrain: PretrainConfig = field(default_factory=lambda: PretrainConfig(
        steps=800, batch_size=16, eval_every=200, eval_blocks=64, temperature=1.0, w_mlm=0.0,
        w_kd=1.0))
    kd_route: str = "cache"
    cache: CacheConfig = field(default_factory=CacheConfig)
    classifier_theta: Theta = field(default_factory=lambda: Theta(
        seed=0, lr=1e-4, weight_decay=0.01, warmup_ratio=0.1, batch_size=32))
    classifier: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(
        epochs=2, patience=None))
    agora: TextAgoraConfig = field(default_factory=_default_agora)
    arms: tuple[str, ...] = ARMS
    pool_distill_size: int = 5000
    latency_batches: tuple[int, ...] = (1, 32)
    latency_seqs: tuple[int, ...] = (64, 128)
    latency_repeats: int = 10
    latency_warmup: int = 3
    latency_threads: int | None = None

    def __post_init__(self) -> None:
        check_choice("MiniatureConfig.task", self.task, TASKS)
        check_choice("MiniatureConfig.kd_route", self.kd_route, KD_ROUTES)
        check_choice("MiniatureConfig.fptas_pick", self.fptas_pick, PICKS)
        check_float("MiniatureConfig.size_budget", self.size_budget, low=0.0, high=1.0,
                    low_open=True)
        check_positive("MiniatureConfig.min_ops_ratio", self.min_ops_ratio)
        check_positive_int("MiniatureConfig.pool_distill_size", self.pool_distill_size)
        for name in ("seeds", "arms", "latency_batches", "latency_seqs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise ValueError(f"MiniatureConfig.{name} must not be empty")
        for arm in self.arms:
            check_choice("MiniatureConfig.arms", arm, ARMS)
        if "agora" not in self.arms:
            raise ValueError(f"MiniatureConfig.arms={self.arms!r} must include 'agora'")
        for name in ("latency_batches", "latency_seqs"):
            for v in getattr(self, name):
                check_positive_int(f"MiniatureConfig.{name}", v)
        check_positive_int("MiniatureConfig.latency_repeats", self.latency_repeats)
        if not self.fptas_dir:
            try:
                parse_spec(self.student_shape)
            except ValueError as exc:
                raise ValueError(f"MiniatureConfig.student_shape={self.student_shape!r}: "
                                 f"{exc}") from None
        for name, cls in (("teacher", TeacherConfig), ("pretrain", PretrainConfig),
                          ("cache", CacheConfig),
                          ("classifier_theta", Theta), ("classifier", FinetuneConfig),
                          ("agora", TextAgoraConfig)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"MiniatureConfig.{name} must be a {cls.__name__}, got "
                                f"{getattr(self, name)!r}")
        if self.cache.seq_len != self.pretrain.seq_len:
            raise ValueError(f"MiniatureConfig.cache.seq_len={self.cache.seq_len} must equal "
                             f"pretrain.seq_len={self.pretrain.seq_len}")
        if self.agora.learner != "student":
            raise ValueError("MiniatureConfig.agora.learner must be 'student'")

    @classmethod
    def smoke(cls, **changes: Any) -> MiniatureConfig:
        """The whole path in about a minute: one seed, a D2-H32 student, the smoke teacher,
        10 KD steps, one teacher epoch, `TextAgoraConfig.smoke()`, one latency condition."""
        agora = TextAgoraConfig.smoke(train_size=48, dev_size=48, test_size=48)
        smoke = dict(seeds=(0,), student_shape="2,2,32,64", teacher=TeacherConfig.smoke(),
                     pretrain=PretrainConfig.smoke(checkpoint_every=0, eval_every=0),
                     cache=CacheConfig.smoke(),
                     classifier=FinetuneConfig.smoke(epochs=1, patience=None),
                     classifier_theta=Theta(seed=0, lr=1e-3, batch_size=16),
                     agora=agora, latency_batches=(1,), latency_seqs=(16,), latency_repeats=2,
                     latency_warmup=1, latency_threads=1, pool_distill_size=32)
        return cls(**{**smoke, **changes})


@dataclass(frozen=True)
class LatencyPair(Record):
    """Teacher and student median latency (ms) under one condition; `speedup` = their ratio."""

    batch_size: int
    seq_len: int
    teacher_ms: float
    student_ms: float

    @property
    def speedup(self) -> float:
        return self.teacher_ms / self.student_ms


@dataclass(frozen=True)
class ArmRun(Record):
    """One arm at one seed: its test accuracy (read once) and how its rounds went."""

    arm: str
    seed: int
    test_accuracy: float
    best_round: int
    n_added: int
    n_steps: int
    dev_accuracy: tuple[float, ...] = ()  # best θ's, per round (dev-A)
    select_accuracy: tuple[float | None, ...] = ()  # per round (dev-B)
    labeller_on_mistakes: tuple[float | None, ...] = ()  # per round
    accepted_per_source: tuple[tuple[tuple[str, float], ...], ...] = ()  # per round, by sampler


@dataclass(frozen=True)
class MiniatureResult(Record):
    """The run: sizes, latencies, the teacher's and every arm's test accuracy, stage times."""

    file_name = "miniature.json"

    config: MiniatureConfig
    teacher_spec: ArchSpec
    student_spec: ArchSpec
    teacher_effective: int
    student_effective: int
    latency: tuple[LatencyPair, ...]
    teacher_test_accuracy: float
    labeller_dev_accuracy: float
    arms: tuple[ArmRun, ...]
    pretrain: dict[str, Any]
    seconds: dict[str, float]

    @property
    def size_ratio(self) -> float:
        return self.student_effective / self.teacher_effective

    def accuracy(self, arm: str) -> tuple[float, float, int]:
        """(mean, sd, n) of an arm's test accuracy over seeds (sd 0 for one seed)."""
        values = [a.test_accuracy for a in self.arms if a.arm == arm]
        if not values:
            raise ValueError(f"no arm {arm!r} in this run; arms: "
                             f"{sorted({a.arm for a in self.arms})}")
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return statistics.fmean(values), sd, len(values)

    def goals(self) -> dict[str, dict[str, Any]]:
        """Issue 15's three goals: value, target, met, and the margin (positive = met by)."""
        speed = min(p.speedup for p in self.latency)
        acc = self.accuracy("agora")[0]
        floor = self.teacher_test_accuracy - 0.01
        return {
            "effective size ≤ 20% of the teacher's": dict(
                value=self.size_ratio, target=0.20, met=self.size_ratio <= 0.20,
                margin=0.20 - self.size_ratio),
            "≥ 5× faster (slowest condition)": dict(
                value=speed, target=5.0, met=speed >= 5.0, margin=speed - 5.0),
            "test accuracy ≥ teacher − 1 point": dict(
                value=acc, target=floor, met=acc >= floor, margin=acc - floor),
        }


__all__ = [
    "ARMS",
    "KD_ROUTES",
    "ArmRun",
    "LatencyPair",
    "MiniatureConfig",
    "MiniatureResult",
]
