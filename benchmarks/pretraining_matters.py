"""Does pretraining matter? Students of one shape, pretrained or not, fine-tuned on real tasks.

Paper (a)'s premise is that an extracted shape pretrained by distillation fine-tunes better
than the same shape from random weights. This benchmark measures it at CPU scale. One shape
(`--shape`), one pretraining budget, one fine-tuning budget and the same seeded splits for
every student:

- ``random-init``: the shape from BERT's random initialisation (the paper's baseline);
- ``pca-init``: embeddings from the PCA projection of the teacher's, no pretraining (separates
  "better embeddings" from "pretraining");
- ``mlm-random``, ``mlm-pca``: plain MLM pretraining (no teacher), each init;
- ``kd-random``, ``kd-pca``: KD pretraining against the cached teacher (soft cross-entropy to
  its top-k distribution over the restricted Vocab, + w_mlm · CE), each init;
- ``minilm``: the teacher's encoder (the shipped MiniLM), fine-tuned with its own recipe.

Each student is pretrained ONCE from the teacher-output cache (`bortkit.pretrain.engine`,
``cache=``) and fine-tuned once per seed and task; every fine-tuning run keeps its best epoch
(validation accuracy; ties go to the later epoch) and is scored on test. Runs go to a process
pool (`--workers`, one torch thread each). Results are written after every run, and a rerun
with the same arguments skips what is done (kill it and start it again at will).

Usage (from the repository root):
    .venv/bin/python benchmarks/pretraining_matters.py \\
        --json benchmarks/results/pretraining_matters.json
Prints a markdown table (test accuracy mean ± sd over seeds, wall seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import bortkit  # noqa: F401 - offline environment before transformers
from bortkit.arch import count_params, parse_spec
from bortkit.records import load_json, save_json
from bortkit.utils import cache_dir

STUDENTS = ("random-init", "pca-init", "mlm-random", "mlm-pca", "kd-random", "kd-pca")
MODELS = (*STUDENTS, "minilm")
# the arguments a finished run's record must share with this invocation to be reused
_RUN_KEYS = ("shape", "cache_dir", "teacher_steps", "teacher_body_lr", "pretrain_steps",
             "batch_size", "pretrain_lr", "temperature", "w_mlm", "w_kd", "train_size",
             "eval_size",
             "epochs", "student_lr", "teacher_epochs", "teacher_lr", "pooling", "schedule",
             "max_length", "patience")


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _teacher_config(args: argparse.Namespace) -> Any:
    from bortkit.pretrain.teacher import TeacherConfig

    changes = {k: v for k, v in (("steps", args.teacher_steps),
                                 ("body_lr", args.teacher_body_lr)) if v is not None}
    return TeacherConfig(**changes)


def _open_cache(args: argparse.Namespace) -> Any:
    """The teacher-output cache: `--cache-dir` as it is, else the one of the teacher settings
    (built when missing)."""
    from bortkit.pretrain.cache import CacheConfig, TeacherCache, teacher_cache

    if args.cache_dir:
        return TeacherCache.load(args.cache_dir).replace(path=str(args.cache_dir))
    return teacher_cache(CacheConfig(teacher=_teacher_config(args)))


def _pretrain_job(name: str, args: argparse.Namespace, work: str) -> dict[str, Any]:
    """Pretrain (or just initialise) one student and export it; its record."""
    import torch

    from bortkit.pretrain.distill import build_student
    from bortkit.pretrain.engine import pretrain
    from bortkit.pretrain.export import export_student
    from bortkit.pretrain.records import PretrainConfig, PretrainResult
    from bortkit.pretrain.teacher import load_tokenizer

    torch.set_num_threads(1)
    tokenizer = load_tokenizer()
    cache = _open_cache(args).open()
    spec = parse_spec(args.shape)
    out = Path(work) / name
    if name == "pca-init":  # the PCA initialisation, no training
        student = build_student(spec, tokenizer, vocab=cache.vocab, init="pca", pca=cache.pca)
        model_dir, _ = export_student(student, tokenizer, out)
        return {"name": name, "model_dir": model_dir, "seconds": 0.0}
    objective, init = name.split("-")
    config = PretrainConfig(steps=args.pretrain_steps, batch_size=args.batch_size,
                            lr=args.pretrain_lr, objective=objective, init=init,
                            temperature=args.temperature, w_mlm=args.w_mlm, w_kd=args.w_kd,
                            eval_every=max(1, args.pretrain_steps // 8), seed=0)
    if (out / PretrainResult.file_name).is_file():
        done = PretrainResult.load(out)
        if done.config == config and done.model_dir and Path(done.model_dir).is_dir():
            return _pretrain_row(name, done, cache_key=cache.meta.key)
    res = pretrain(spec, config, tokenizer=tokenizer, cache=cache, output_dir=out,
                   progress=False)
    return _pretrain_row(name, res, cache_key=cache.meta.key)


def _pretrain_row(name: str, res: Any, *, cache_key: str) -> dict[str, Any]:
    return {"name": name, "model_dir": res.model_dir, "seconds": res.seconds,
            "steps": res.steps, "accuracy": res.final.accuracy, "loss": res.final.loss,
            "kl": res.curve.eval_kl[-1], "teacher_accuracy": res.extra.get("teacher_accuracy"),
            "cache": cache_key,
            "curve": {"steps": list(res.curve.eval_steps),
                      "accuracy": [1 - e for e in res.curve.eval_error],
                      "kl": list(res.curve.eval_kl), "loss": list(res.curve.eval_loss)}}


def _finetune_job(model: str, source: str, task: str, seed: int,
                  args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune one model on one task with one seed; its row."""
    import torch
    from datasets.utils import disable_progress_bars

    from bortkit import data
    from bortkit.finetune import FinetuneConfig, finetune
    from bortkit.theta import Theta

    torch.set_num_threads(1)
    disable_progress_bars()
    dd = data.load_task(task, seed=0, train_size=args.train_size, eval_size=args.eval_size)
    teacher = model == "minilm"
    config = FinetuneConfig(epochs=args.teacher_epochs if teacher else args.epochs,
                            patience=args.patience, max_length=args.max_length, threads=1,
                            pooling=args.pooling, schedule=args.schedule)
    theta = Theta(seed=seed, lr=args.teacher_lr if teacher else args.student_lr,
                  weight_decay=0.01, warmup_ratio=0.1, batch_size=16)
    src: Any = parse_spec(source) if model == "random-init" else source
    start = time.perf_counter()
    r = finetune(src, dd, theta=theta, config=config, name=model, progress=False)
    return {"model": model, "task": task, "seed": seed, "test_accuracy": r.test.accuracy,
            "test_macro_f1": r.test.macro_f1, "val_accuracy": r.val.accuracy,
            "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
            "seconds": time.perf_counter() - start, "theta": r.theta.label,
            "majority_share": _majority_share(r)}


def _majority_share(result: Any) -> float:
    """The largest predicted-class share on test (1.0: the model predicts one class only)."""
    counts = [sum(row[j] for row in result.test.confusion)
              for j in range(len(result.test.confusion))]
    return max(counts) / max(1, sum(counts))


def _summary(rows: list[dict[str, Any]], models: list[str], tasks: list[str]
             ) -> list[dict[str, Any]]:
    out = []
    for task in tasks:
        for model in models:
            acc = [r["test_accuracy"] for r in rows if r["model"] == model and r["task"] == task]
            if not acc:
                continue
            secs = [r["seconds"] for r in rows if r["model"] == model and r["task"] == task]
            out.append({"task": task, "model": model, "n": len(acc),
                        "test_accuracy_mean": statistics.fmean(acc),
                        "test_accuracy_sd": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                        "finetune_seconds_mean": statistics.fmean(secs)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="4,4,128,256", help="the students' D,A,H,I")
    ap.add_argument("--cache-dir", default=None,
                    help="an existing teacher-output cache folder (default: the cache of the "
                    "teacher settings below, built when missing)")
    ap.add_argument("--teacher-dir", default=None,
                    help="the cached teacher's folder, for its build curve in the record")
    ap.add_argument("--teacher-steps", type=int, default=None,
                    help="TeacherConfig.steps of the cached teacher (default: TeacherConfig's)")
    ap.add_argument("--teacher-body-lr", type=float, default=None,
                    help="TeacherConfig.body_lr (default: TeacherConfig's)")
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--pretrain-lr", type=float, default=1e-3)
    # the cached-KD settings measured best (docs/results.md), not Bort's 2.0 / 0.1 / 0.5
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--w-mlm", type=float, default=0.0)
    ap.add_argument("--w-kd", type=float, default=1.0)
    ap.add_argument("--tasks", default="rt,sms")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train-size", type=int, default=1000)
    ap.add_argument("--eval-size", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=5, help="students' fine-tuning epochs")
    ap.add_argument("--student-lr", type=float, default=1e-3)
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--teacher-lr", type=float, default=1e-4)
    ap.add_argument("--pooling", default="mean", choices=("mean", "first"))
    ap.add_argument("--schedule", default="linear", choices=("linear", "constant"))
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--patience", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2, help="processes (one torch thread each)")
    ap.add_argument("--work-dir", default=None,
                    help="where the students are exported (default: under the bortkit cache)")
    ap.add_argument("--json", default="benchmarks/results/pretraining_matters.json")
    args = ap.parse_args()

    from bortkit.pretrain.teacher import TeacherResult, adapt_teacher, minilm_dir

    json_path = Path(args.json)
    work = Path(args.work_dir or cache_dir() / "benchmarks" / "pretraining_matters").resolve()
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"unknown --models {unknown}; known: {', '.join(MODELS)}")
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    run_args = {k: getattr(args, k) for k in _RUN_KEYS}
    record: dict[str, Any] = {}
    if json_path.is_file():
        old = load_json(json_path)
        if old.get("args") == run_args:
            record = old
    rows: list[dict[str, Any]] = list(record.get("runs", []))
    done = {(r["model"], r["task"], r["seed"]) for r in rows}
    record.setdefault("date", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    record.setdefault("uptime_start", _uptime())
    record.update({
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "args": run_args,
        "shape": args.shape,
        "params": {"total": count_params(parse_spec(args.shape)).total,
                   "effective": count_params(parse_spec(args.shape)).effective}})
    start = time.perf_counter()
    # the teacher and its cache, once, in this process (the workers only read them)
    teacher = (TeacherResult.load(args.teacher_dir) if args.teacher_dir
               else None if args.cache_dir else adapt_teacher(config=_teacher_config(args),
                                                              progress=False))
    cache = _open_cache(args)
    # the teacher's settings as the cache recorded them (raw: a TeacherConfig field added
    # since would read back as today's default, not as what built this teacher)
    raw = load_json(Path(cache.path) / "meta.json")["config"]["teacher"]
    record["teacher"] = {"cache": cache.key, "cache_dir": cache.path, "config": raw}
    if teacher is not None:
        record["teacher"].update(build_accuracy=teacher.after.accuracy,
                                 history=[(p.step, p.accuracy) for p in teacher.history])
    pretrained = dict(record.get("pretrain", {}))
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        todo = [m for m in models if m in STUDENTS and m != "random-init"]
        jobs = {pool.submit(_pretrain_job, m, args, str(work)): m for m in todo}
        for fut in as_completed(jobs):
            row = fut.result()
            pretrained[row["name"]] = row
            print(f"pretrained {row['name']}: acc {row.get('accuracy', float('nan')):.3f} "
                  f"kl {row.get('kl', float('nan')):.3f} in {row['seconds']:.0f} s", flush=True)
        record["pretrain"] = pretrained
        save_json(json_path, record)
        sources = {m: (args.shape if m == "random-init" else str(minilm_dir()) if m == "minilm"
                       else pretrained[m]["model_dir"]) for m in models}
        jobs = {pool.submit(_finetune_job, m, sources[m], t, s, args): (m, t, s)
                for t in tasks for s in seeds for m in models if (m, t, s) not in done}
        for fut in as_completed(jobs):
            row = fut.result()
            rows.append(row)
            record["runs"] = rows
            save_json(json_path, record)  # after every run: a rerun skips it
            print(f"{row['model']:>12} {row['task']} seed {row['seed']}: test "
                  f"{row['test_accuracy']:.3f} (best epoch {row['best_epoch']}) in "
                  f"{row['seconds']:.0f} s", flush=True)
    record["summary"] = _summary(rows, models, tasks)
    record["seconds"] = record.get("seconds", 0.0) + time.perf_counter() - start
    record["uptime_end"] = _uptime()
    save_json(json_path, record)
    print(f"\n{args.shape}: pretraining {args.pretrain_steps} steps, fine-tuning "
          f"{args.train_size} examples, seeds {args.seeds}; {record['seconds'] / 60:.1f} min; "
          f"{record['uptime_end']}\n")
    print("| task | model | test acc (mean ± sd) | n | fine-tune s | pretrain s |")
    print("|---|---|---|---|---|---|")
    for s in record["summary"]:
        pre = pretrained.get(s["model"], {}).get("seconds")
        print(f"| {s['task']} | {s['model']} | {s['test_accuracy_mean']:.3f} ± "
              f"{s['test_accuracy_sd']:.3f} | {s['n']} | {s['finetune_seconds_mean']:.0f} | "
              f"{'–' if pre is None else f'{pre:.0f}'} |")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
