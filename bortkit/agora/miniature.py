"""Bort in miniature: teacher → extracted shape → KD pretraining → Agora fine-tuning → test.

`run_miniature(MiniatureConfig(...), output_dir)` is issue 15's headline experiment
(`benchmarks/bort_miniature.py` is its command line):

1. **Teacher.** MiniLM-L6 fine-tuned on the task's gold train set (`bortkit.finetune.engine`;
   best epoch on dev-A): the model the student must match, and Agora's labeller.
2. **Shape.** The FPTAS's chosen shape (`fptas_dir`, notebook 02) or a given one
   (`student_shape`, default `STUDENT_SHAPE`: D2-A4-H128-I512, a documented choice: the FPTAS
   at CPU budgets cannot yet order shapes, docs/results.md).
3. **KD pretraining** of that shape on the corpus from the teacher MLM
   (`bortkit.pretrain.engine.pretrain`, `PretrainConfig.init` embeddings).
4. **Agora** on the student (`StudentLearner`, mask-and-refill + pool samplers, task
   distillation of the labeller's probabilities), per seed, with the arms: ``agora``, its
   round 0 ``no-agora`` (plain fine-tuning on gold, same steps per fit), the random-source
   ``control`` (same number of points), and ``no-kd`` (Agora on a random-init student).
5. **Test**, once per arm and seed; the teacher's once.
6. **Size and speed.** Effective (non-embedding) parameters (`bortkit.arch.count_params`) and
   CPU latency at each (batch, sequence) of `latency_batches` × `latency_seqs`
   (`bortkit.measure.latency.measure_latencies`, interleaved so load drifts hit both models).

The goal of issue 15 is checked by `MiniatureResult.goals()`: effective size ≤ 20% of the
teacher's, ≥ 5× faster at every measured condition, mean test accuracy ≥ teacher − 1 point;
the table says by how much a goal is missed. Smoke sizes live in `MiniatureConfig.smoke()`.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bortkit.agora.experiment import (
    EMBED_MAX_LENGTH,
    STUDENT_SHAPE,
    TextAgoraConfig,
    TextRun,
    build_sampler,
    run_text,
)
from bortkit.agora.labellers import TextLabeller, check_labeller
from bortkit.agora.records import AgoraConfig
from bortkit.agora.splits import low_data_split, split_dev
from bortkit.agora.student import StudentConfig, StudentLearner
from bortkit.arch import ArchSpec, count_params, parse_spec
from bortkit.data.corpus import build_corpus
from bortkit.data.tasks import TASKS
from bortkit.embed import SentenceEmbedder
from bortkit.finetune.classifier import arch_of
from bortkit.finetune.engine import finetune, task_labels
from bortkit.finetune.records import FinetuneConfig
from bortkit.measure.latency import measure_latencies
from bortkit.pretrain.engine import pretrain
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.records import PretrainConfig
from bortkit.pretrain.teacher import TeacherConfig, load_teacher, load_tokenizer, minilm_dir
from bortkit.pretrain.teacher_head import model_class
from bortkit.records import Record, check_choice, check_positive_int
from bortkit.search import load_result
from bortkit.theta import Theta, make_grid

logger = logging.getLogger(__name__)

ARMS = ("agora", "control", "no-kd")  # "no-agora" comes free: round 0 of "agora"


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
        fptas_dir: an FPTAS output folder whose chosen shape is the student's.
        teacher: the teacher MLM build (KD pretraining, mask-and-refill).
        teacher_dir: a built teacher MLM folder (`RestrictedBertForMaskedLM`); wins over
            `teacher` (e.g. a longer build someone already paid for).
        pretrain: the KD pretraining run.
        classifier_theta, classifier: the teacher classifier's fine-tuning (θ and run).
        agora: the student's splits, learner, samplers, pool and loop (`TextAgoraConfig`;
            `labeller_size` is ignored: the teacher classifier, trained on the same gold, is
            the labeller).
        arms: which of `ARMS` to run ("agora" always; "no-agora" is its round 0).
        latency_batches, latency_seqs: the latency grid.
        latency_repeats, latency_warmup, latency_threads: the profiler's settings.
    """

    task: str = "rt"
    seeds: tuple[int, ...] = (0, 1, 2)
    student_shape: str = STUDENT_SHAPE
    fptas_dir: str = ""
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    teacher_dir: str = ""
    pretrain: PretrainConfig = field(default_factory=lambda: PretrainConfig(
        steps=120, batch_size=16, eval_every=60, eval_blocks=64))
    classifier_theta: Theta = field(default_factory=lambda: Theta(
        seed=0, lr=1e-4, weight_decay=0.01, warmup_ratio=0.1, batch_size=32))
    classifier: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(
        epochs=2, patience=None))
    agora: TextAgoraConfig = field(default_factory=_default_agora)
    arms: tuple[str, ...] = ARMS
    latency_batches: tuple[int, ...] = (1, 32)
    latency_seqs: tuple[int, ...] = (64, 128)
    latency_repeats: int = 10
    latency_warmup: int = 3
    latency_threads: int | None = None

    def __post_init__(self) -> None:
        check_choice("MiniatureConfig.task", self.task, TASKS)
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
                          ("classifier_theta", Theta), ("classifier", FinetuneConfig),
                          ("agora", TextAgoraConfig)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"MiniatureConfig.{name} must be a {cls.__name__}, got "
                                f"{getattr(self, name)!r}")
        if self.agora.learner != "student":
            raise ValueError("MiniatureConfig.agora.learner must be 'student'")

    @classmethod
    def smoke(cls, **changes: Any) -> MiniatureConfig:
        """The whole path in about a minute: one seed, a D2-H32 student, the smoke teacher,
        10 KD steps, one teacher epoch, `TextAgoraConfig.smoke()`, one latency condition."""
        agora = TextAgoraConfig.smoke(train_size=48, dev_size=48, test_size=48)
        smoke = dict(seeds=(0,), student_shape="2,2,32,64", teacher=TeacherConfig.smoke(),
                     pretrain=PretrainConfig.smoke(checkpoint_every=0, eval_every=0),
                     classifier=FinetuneConfig.smoke(epochs=1, patience=None),
                     classifier_theta=Theta(seed=0, lr=1e-3, batch_size=16),
                     agora=agora, latency_batches=(1,), latency_seqs=(16,), latency_repeats=2,
                     latency_warmup=1, latency_threads=1)
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


def _arm(arm: str, seed: int, run: TextRun, *, control: bool = False) -> ArmRun:
    res = run.control if control else run.result
    acc = run.control_test_accuracy if control else run.test_accuracy
    steps = run.control_n_steps if control else run.n_steps
    return ArmRun(
        arm=arm, seed=seed, test_accuracy=float(acc), best_round=res.best_round,
        n_added=sum(res.added_per_round), n_steps=int(steps or 0),
        dev_accuracy=tuple(r.best_dev_accuracy for r in res.rounds),
        select_accuracy=tuple(r.select_accuracy for r in res.rounds),
        labeller_on_mistakes=tuple(r.labeller_mistake_accuracy for r in res.rounds),
        accepted_per_source=tuple(tuple(sorted(r.accepted_per_source().items()))
                                  for r in res.rounds))


def student_spec(config: MiniatureConfig) -> ArchSpec:
    """The student's shape: the FPTAS's choice when `fptas_dir` is set, else `student_shape`."""
    if config.fptas_dir:
        return load_result(config.fptas_dir).chosen.spec
    return parse_spec(config.student_shape)


def run_miniature(config: MiniatureConfig, output_dir: str | Path, *, progress: bool = False,
                  on_stage: Callable[[str], None] | None = None) -> MiniatureResult:
    """Run the miniature experiment (see the module doc); writes ``miniature.json`` and the
    teacher classifier, the pretrained student and each arm's `TextRun` under `output_dir`."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    marks: list[tuple[str, float]] = []

    def stage(name: str) -> None:  # wall time per stage, for the record
        marks.append((name, time.perf_counter()))
        logger.info("miniature: %s", name)
        if on_stage is not None:
            on_stage(name)

    stage("setup")
    spec = student_spec(config)
    cfg = config.agora
    if config.teacher_dir:
        mlm = model_class().from_pretrained(config.teacher_dir).eval()
        tokenizer = load_tokenizer(config.teacher_dir)
    else:
        mlm, tokenizer = load_teacher(config.teacher, progress=progress)
    data, _ = low_data_split(config.task, seed=0, train_size=cfg.train_size,
                             dev_size=cfg.dev_size, test_size=cfg.test_size,
                             labeller_size=cfg.train_size)
    dev_a, dev_b = split_dev(data, cfg.select_fraction, seed=0)
    data["validation"] = dev_a
    names = task_labels(data)

    stage("teacher classifier")
    teacher_run = finetune(minilm_dir(), data, theta=config.classifier_theta,
                           config=config.classifier, output_dir=out / "teacher_classifier",
                           tokenizer=tokenizer, progress=progress)
    labeller = check_labeller(TextLabeller(teacher_run.model_dir), names)

    stage("KD pretraining")
    blocks = corpus_blocks(build_corpus(seed=0), tokenizer, seq_len=config.pretrain.seq_len,
                           max_train_blocks=config.pretrain.max_train_blocks,
                           max_heldout_blocks=config.pretrain.eval_blocks,
                           max_chars=config.pretrain.max_chars)
    kd = pretrain(spec, config.pretrain, tokenizer=tokenizer, train_blocks=blocks.train,
                  heldout_blocks=blocks.heldout, teacher=mlm, output_dir=out / "student_kd",
                  progress=progress)

    stage("samplers")
    embedder = SentenceEmbedder(max_length=EMBED_MAX_LENGTH)
    sampler = build_sampler(cfg, mlm=mlm, tokenizer=tokenizer, embedder=embedder)

    arms: list[ArmRun] = []
    for seed in config.seeds:
        thetas = make_grid(seeds=(seed,), lrs=(1e-3, 3e-4), weight_decays=(0.01,),
                           batch_sizes=(32,))[:cfg.n_thetas]
        sources = {"agora": kd.model_dir, "no-kd": spec}
        for arm in [a for a in config.arms if a in sources]:
            stage(f"seed {seed}: {arm}")
            learner = StudentLearner(
                sources[arm], label_names=names, tokenizer=tokenizer,
                gold_texts=data["train"]["text"],
                soft_targets=labeller.probs if cfg.student.soft_labels else None,
                config=cfg.student)
            run = run_text(data, learner=learner, labeller=labeller, sampler=sampler,
                           thetas=thetas, config=cfg.agora, seed=seed, progress=progress,
                           select=dev_b, control=arm == "agora" and "control" in config.arms)
            run.save(out / f"seed{seed}-{arm}.json")
            arms.append(_arm(arm, seed, run))
            if arm == "agora":
                arms.append(ArmRun(arm="no-agora", seed=seed,
                                   test_accuracy=float(run.baseline_test_accuracy),
                                   best_round=0, n_added=0,
                                   n_steps=cfg.student.steps * len(run.result.rounds[0].thetas),
                                   dev_accuracy=(run.result.rounds[0].best_dev_accuracy,),
                                   select_accuracy=(run.result.rounds[0].select_accuracy,)))
                if run.control is not None:
                    arms.append(_arm("control", seed, run, control=True))

    stage("latency")
    teacher_spec = arch_of(minilm_dir())
    pairs = []
    for batch in config.latency_batches:
        for seq in config.latency_seqs:
            t, s = measure_latencies([("teacher", teacher_spec), ("student", spec)],
                                     seq_len=seq, batch_size=batch,
                                     repeats=config.latency_repeats,
                                     warmup=config.latency_warmup,
                                     threads=config.latency_threads, device="cpu",
                                     interleave=True)
            pairs.append(LatencyPair(batch, seq, t.latency_ms, s.latency_ms))
    stage("done")
    seconds = {name: round(t1 - t0, 1) for (name, t0), (_, t1) in zip(marks, marks[1:])}
    seconds["total"] = round(marks[-1][1] - marks[0][1], 1)
    result = MiniatureResult(
        config=config, teacher_spec=teacher_spec, student_spec=spec,
        teacher_effective=count_params(teacher_spec).effective,
        student_effective=count_params(spec).effective, latency=tuple(pairs),
        teacher_test_accuracy=float(teacher_run.test.get("accuracy")),
        labeller_dev_accuracy=float(teacher_run.val.get("accuracy")), arms=tuple(arms),
        pretrain={"steps": kd.steps, "seconds": round(kd.seconds, 1),
                  "heldout_accuracy": kd.final.accuracy, "heldout_loss": kd.final.loss,
                  "model_dir": kd.model_dir},
        seconds=seconds)
    result.save(out / MiniatureResult.file_name)
    return result


ARM_LABELS = {
    "agora": "student, KD + Agora (the miniature Bort)",
    "no-agora": "ablation: no Agora (gold-only fine-tuning, same steps)",
    "control": "ablation: Agora control (random train points as sources)",
    "no-kd": "ablation: no KD pretraining (random-init student + Agora)",
}


def miniature_table(result: MiniatureResult) -> str:
    """The headline table (markdown): teacher vs student size, speed, accuracy, the ablations
    and the goals, each with its margin."""
    t, s = result.teacher_spec, result.student_spec
    lat = {(p.batch_size, p.seq_len): p for p in result.latency}
    conds = [f"b{b} s{q}" for b, q in lat]
    head = "| model | shape D,A,H,I | effective params | " + " | ".join(
        f"ms {c}" for c in conds) + " | test accuracy (mean ± sd, n) |"
    rows = [head, "|" + "---|" * (4 + len(conds))]
    rows.append(f"| teacher: MiniLM-L6 fine-tuned | {t.D},{t.A},{t.H},{t.I} | "
                f"{result.teacher_effective / 1e6:.2f} M | " + " | ".join(
                    f"{p.teacher_ms:.1f}" for p in lat.values())
                + f" | {result.teacher_test_accuracy:.3f} (1 run) |")
    for arm in ("agora", "no-agora", "control", "no-kd"):
        if not any(a.arm == arm for a in result.arms):
            continue
        mean, sd, n = result.accuracy(arm)
        size = (f"{result.student_effective / 1e6:.2f} M ({100 * result.size_ratio:.1f}%)"
                if arm == "agora" else "same")
        speed = (" | ".join(f"{p.student_ms:.2f} ({p.speedup:.1f}×)" for p in lat.values())
                 if arm == "agora" else " | ".join("same" for _ in lat))
        shape = f"{s.D},{s.A},{s.H},{s.I}" if arm in ("agora", "no-kd") else "same"
        rows.append(f"| {ARM_LABELS[arm]} | {shape} | {size} | {speed} | "
                    f"{mean:.3f} ± {sd:.3f} ({n}) |")
    rows.append("")
    rows.append("| goal | value | target | met | margin |")
    rows.append("|---|---:|---:|---|---:|")
    for name, g in result.goals().items():
        fmt = "{:.1%}" if "size" in name else "{:.2f}×" if "faster" in name else "{:.3f}"
        margin = (f"{g['margin']:+.1%}" if "size" in name else f"{g['margin']:+.2f}×"
                  if "faster" in name else f"{100 * g['margin']:+.1f} points")
        rows.append(f"| {name} | {fmt.format(g['value'])} | {fmt.format(g['target'])} | "
                    f"{'yes' if g['met'] else 'no'} | {margin} |")
    return "\n".join(rows)


__all__ = [
    "ARMS",
    "ARM_LABELS",
    "ArmRun",
    "LatencyPair",
    "MiniatureConfig",
    "MiniatureResult",
    "miniature_table",
    "run_miniature",
    "student_spec",
]
