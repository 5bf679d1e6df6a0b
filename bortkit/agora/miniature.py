"""Bort in miniature: teacher → extracted shape → KD pretraining → Agora fine-tuning → test.

`run_miniature(MiniatureConfig(...), output_dir)` is issue 15's headline experiment
(`benchmarks/bort_miniature.py` is its command line):

1. **Teacher.** MiniLM-L6 fine-tuned on the task's gold train set (`bortkit.finetune.engine`;
   best epoch on dev-A): the model the student must match, and Agora's labeller.
2. **Shape.** From an FPTAS run (`fptas_dir`, notebook 02 or `bortkit fptas`), either W's
   argmax (`fptas_pick="w"`) or, by default, the user's pick from its front under the goal's
   budgets (`fptas_pick="budget"`, `bortkit.search.pick.budget_pick`): the trained candidate
   of lowest e whose effective size is ≤ `size_budget` of the teacher's and whose analytic
   op count is ≤ 1/`min_ops_ratio` of the teacher's. Or a given shape (`student_shape`, default
   `STUDENT_SHAPE`). Why not W: on the CPU space W's cost factors span (0, 1] while 1/e varies
   by ~9%, so W's argmax is the cheapest shape (docs/results.md, FPTAS vs baselines).
3. **KD pretraining** of that shape from the teacher MLM (`bortkit.pretrain.engine.pretrain`,
   `PretrainConfig.init` embeddings): by default from the teacher-output cache (`kd_route`
   "cache": the teacher's top-k logits on fixed batches, built once and shared with the
   surrogate; KL alone at T = 1, the recipe measured best for a top-k teacher in
   docs/results.md), or with the teacher live ("live", always the case with `teacher_dir`).
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

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bortkit.agora.experiment import EMBED_MAX_LENGTH, TextRun, build_sampler, run_text
from bortkit.agora.labellers import TextLabeller, check_labeller
from bortkit.agora.learners import split_xy, test_accuracy
from bortkit.agora.miniature_records import ArmRun, LatencyPair, MiniatureConfig, MiniatureResult
from bortkit.agora.pool import build_pool
from bortkit.agora.splits import low_data_split, split_dev
from bortkit.agora.student import StudentLearner
from bortkit.arch import ArchSpec, count_params, parse_spec
from bortkit.data.corpus import build_corpus
from bortkit.embed import SentenceEmbedder
from bortkit.finetune.classifier import arch_of
from bortkit.finetune.engine import finetune, task_labels
from bortkit.finetune.records import FinetuneResult
from bortkit.measure.latency import measure_latencies
from bortkit.pretrain.cache import teacher_cache
from bortkit.pretrain.engine import pretrain
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.records import PretrainResult
from bortkit.pretrain.teacher import load_teacher, load_tokenizer, minilm_dir
from bortkit.pretrain.teacher_head import model_class
from bortkit.search import load_result
from bortkit.search.pick import pick
from bortkit.theta import make_grid

logger = logging.getLogger(__name__)


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
    """The student's shape: from the FPTAS run when `fptas_dir` is set (see `fptas_pick`),
    else `student_shape`."""
    if not config.fptas_dir:
        return parse_spec(config.student_shape)
    return pick(load_result(config.fptas_dir), config.fptas_pick, arch_of(minilm_dir()),
                size_budget=config.size_budget, min_ops_ratio=config.min_ops_ratio).spec


def _teacher_classifier(config: MiniatureConfig, data: Any, tokenizer: Any, out: Path, *,
                        progress: bool) -> FinetuneResult:
    """MiniLM fine-tuned on the gold train set; a finished run in `out` with the same θ, epochs
    and train size is reused (the data split is seeded, so a rerun in one work folder resumes
    after the most expensive stage instead of repeating it)."""
    if (out / FinetuneResult.file_name).is_file():
        done = FinetuneResult.load(out)
        if (done.theta == config.classifier_theta and done.epochs == config.classifier.epochs
                and done.train_size == len(data["train"]) and done.model_dir
                and Path(done.model_dir).is_dir()):
            logger.info("miniature: reusing the teacher classifier in %s", out)
            return done
    return finetune(minilm_dir(), data, theta=config.classifier_theta, config=config.classifier,
                    output_dir=out, tokenizer=tokenizer, progress=progress)


def _kd_source_id(config: MiniatureConfig) -> str:
    """What the KD student is distilled from (the teacher build's own key, the route, the
    cache's key fields), hashed: its work folder is named by it, so a changed teacher never
    reuses an old student, while settings that do not change weights (evaluation period,
    device) keep it."""
    source = {"teacher": config.teacher.key(), "teacher_dir": config.teacher_dir,
              "kd_route": config.kd_route, "cache": config.cache.key_fields()}
    blob = json.dumps(source, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _kd_student(config: MiniatureConfig, spec: ArchSpec, mlm: Any, tokenizer: Any, out: Path,
                *, progress: bool) -> PretrainResult:
    """KD pretraining of the student (see `kd_route`); a finished run in `out` with the same
    config and shape is reused."""
    if (out / PretrainResult.file_name).is_file():
        done = PretrainResult.load(out)
        if (done.config == config.pretrain and done.model_dir
                and Path(done.model_dir).is_dir() and arch_of(done.model_dir) == spec):
            logger.info("miniature: reusing the KD student in %s", out)
            return done
    if config.kd_route == "cache" and not config.teacher_dir:
        # keyed by the teacher's build settings (not its weights): the surrogate's cache
        cache = teacher_cache(config.cache.replace(teacher=config.teacher),
                              tokenizer=tokenizer).open()
        return pretrain(spec, config.pretrain, tokenizer=tokenizer, cache=cache,
                        output_dir=out, progress=progress)
    blocks = corpus_blocks(build_corpus(seed=0), tokenizer, seq_len=config.pretrain.seq_len,
                           max_train_blocks=config.pretrain.max_train_blocks,
                           max_heldout_blocks=config.pretrain.eval_blocks,
                           max_chars=config.pretrain.max_chars)
    return pretrain(spec, config.pretrain, tokenizer=tokenizer, train_blocks=blocks.train,
                    heldout_blocks=blocks.heldout, teacher=mlm, output_dir=out,
                    progress=progress)


def _pool_distill(config: MiniatureConfig, seed: int, pool: Sequence[str], source: str, *,
                  data: Any, names: Sequence[str], tokenizer: Any, labeller: TextLabeller,
                  thetas: Any, steps: int) -> ArmRun:
    """The "pool-distill" arm: plain task distillation, the question Agora's sampling must
    answer. Gold + `pool_distill_size` random `pool` sentences (seeded; the pool excludes every
    evaluation split) labelled once by the labeller and trained on its probabilities
    (`StudentConfig.soft_labels`); one fit of the student at `source` per θ, of `steps` steps
    (the agora arm's total divided by |Θ|: equal training steps), θ chosen on dev-A, test read
    once."""
    rng = np.random.default_rng([seed, 11])
    size = min(config.pool_distill_size, len(pool))
    extra = [pool[i] for i in rng.choice(len(pool), size=size, replace=False)]
    probs = dict(zip(extra, labeller.probs(extra)))  # the one labelling pass
    gold_x, gold_y = split_xy(data["train"])
    dev_x, dev_y = split_xy(data["validation"])
    learner = StudentLearner(
        source, label_names=names, tokenizer=tokenizer,
        gold_texts=gold_x, soft_targets=lambda texts: np.stack([probs[t] for t in texts]),
        config=config.agora.student.replace(steps=steps, soft_labels=True))
    x = [*gold_x, *extra]
    y = np.concatenate([gold_y, [int(probs[t].argmax()) for t in extra]])
    fits = []
    for theta in thetas:
        model = learner.fit(x, y, theta, seed=seed)
        fits.append((float(np.mean(learner.predict(model, dev_x)[0] == dev_y)), model))
    dev_acc, best = max(fits, key=lambda f: f[0])
    return ArmRun(arm="pool-distill", seed=seed, test_accuracy=float(test_accuracy(
        learner, best, data)), best_round=0, n_added=len(extra), n_steps=steps * len(thetas),
        dev_accuracy=(dev_acc,))


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
    teacher_run = _teacher_classifier(config, data, tokenizer, out / "teacher_classifier",
                                      progress=progress)
    labeller = check_labeller(TextLabeller(teacher_run.model_dir), names)

    stage("KD pretraining")
    kd = _kd_student(config, spec, mlm, tokenizer, out / f"student_kd-{_kd_source_id(config)}",
                     progress=progress)

    stage("samplers")
    embedder = SentenceEmbedder(max_length=EMBED_MAX_LENGTH)
    sampler = build_sampler(cfg, mlm=mlm, tokenizer=tokenizer, embedder=embedder)
    pool = build_pool(cfg.pool).texts if "pool-distill" in config.arms else ()  # read once

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
                if "pool-distill" in config.arms:
                    stage(f"seed {seed}: pool-distill")
                    arms.append(_pool_distill(
                        config, seed, pool, kd.model_dir, data=data, names=names,
                        tokenizer=tokenizer, labeller=labeller, thetas=thetas,
                        steps=max(1, run.n_steps // len(thetas))))

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
    "pool-distill": "comparison: task distillation on random pool sentences (no mistakes)",
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
    for arm in ("agora", "no-agora", "control", "no-kd", "pool-distill"):
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
    "ARM_LABELS",
    "miniature_table",
    "run_miniature",
    "student_spec",
]
