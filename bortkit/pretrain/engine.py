"""KD pretraining of an extracted architecture: the training engine, checkpoints, resume.

A small custom loop on top of `accelerate` (the `Accelerator` places the model and wraps it for
data parallelism, so `accelerate launch` / `torchrun` scale the same code to several GPUs or
nodes). The objective lives in `bortkit.pretrain.distill`; the batches and held-out evaluation
in `bortkit.pretrain.batches`: corpus blocks with dynamic masking and a live teacher, or the
teacher-output cache (``cache=``: the teacher's top-k logits precomputed, no teacher forward per
step; the default route of notebook 03).

Exact resume (project choice): nothing random depends on hidden state. Step k's batch and masks
are functions of (seed, k) (`bortkit.pretrain.batches`), and dropout draws from the global torch
RNG re-seeded by (seed, k, rank) inside `fork_rng`. So a run resumed from the checkpoint at step
k replays exactly the batches, masks and dropout of an uninterrupted run, and its curve is
identical.

Checkpoints: `<output_dir>/checkpoints/step-<k>` written by `accelerator.save_state` into a
temporary folder that is renamed into place (a folder appears whole or not at all), with
`trainer_state.json` (step, learning curve, config, elapsed seconds). The last `keep` are kept.
Export (`bortkit.pretrain.export.export_student`, atomic): `<output_dir>/model` is the hand-off
to fine-tuning (a plain HF `BertModel` folder for a restricted-head student, the
`BertForMaskedLM` itself for a full-vocabulary one), `<output_dir>/mlm` a restricted student with
its head and ``vocab.json``; `<output_dir>/result.json` is the `PretrainResult`
(`PretrainResult.load(output_dir).model_dir` is the hand-off).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

from bortkit.arch import ArchSpec, parse_spec
from bortkit.data.corpus import Corpus
from bortkit.measure.machine import torch_threads
from bortkit.pretrain.batches import BlockSource, CacheSource, seed_of
from bortkit.pretrain.cache import CachedOutputs, TeacherCache
from bortkit.pretrain.distill import build_student, clip_weights_, make_distiller, output_vocab
from bortkit.pretrain.export import export_student
from bortkit.pretrain.init import embedding_pca
from bortkit.pretrain.mlm import MlmEval
from bortkit.pretrain.records import LearningCurve, PretrainConfig, PretrainResult
from bortkit.pretrain.teacher import check_vocab
from bortkit.records import load_json, save_json
from bortkit.search import load_result
from bortkit.utils import resolve_device

logger = logging.getLogger(__name__)

CKPT_DIR = "checkpoints"
STATE_NAME = "trainer_state.json"
# Config fields a resumed run may change without breaking exactness.
_RESUMABLE = ("eval_every", "checkpoint_every", "keep_checkpoints")


def _param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


# ---------------------------------------------------------------------------------------------
# Checkpoints.
def _checkpoints(root: Path) -> list[tuple[int, Path]]:
    found = []
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and d.name.startswith("step-") and (d / STATE_NAME).is_file():
                try:
                    found.append((int(d.name[5:]), d))
                except ValueError:
                    continue
    return sorted(found)


def latest_checkpoint(output_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint folder under `output_dir`, or None."""
    found = _checkpoints(Path(output_dir) / CKPT_DIR)
    return found[-1][1] if found else None


def _save_checkpoint(accelerator: Any, root: Path, step: int, state: dict[str, Any],
                     keep: int) -> None:
    tmp = root / f".tmp-step-{step:07d}"
    final = root / f"step-{step:07d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=False)
    if accelerator.is_main_process:
        save_json(tmp / STATE_NAME, state)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)  # atomic: the folder appears complete or not at all
        for _, old in _checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _check_resumable(saved: dict[str, Any], config: PretrainConfig) -> None:
    # through the record, so fields added since the checkpoint was written take their defaults
    saved = PretrainConfig.from_dict(saved).to_dict()
    now = config.to_dict()
    diff = sorted(k for k in now if k not in _RESUMABLE and saved.get(k) != now[k])
    if diff:
        raise ValueError(
            "cannot resume: the checkpoint was written with a different config for "
            + ", ".join(f"{k} (checkpoint {saved.get(k)!r}, now {now[k]!r})" for k in diff))


# ---------------------------------------------------------------------------------------------
def pretrain(
    student: Any,
    config: PretrainConfig | None = None,
    *,
    tokenizer: Any,
    train_blocks: Any = None,
    heldout_blocks: Any = None,
    teacher: Any | None = None,
    cache: TeacherCache | CachedOutputs | None = None,
    corpus: Corpus | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    accelerator: Any | None = None,
    threads: int | None = None,
    device: str = "auto",
) -> PretrainResult:
    """Pretrain `student` by KD from a teacher (cached or live) or by plain MLM.

    Args:
        student: the model to train (see `bortkit.pretrain.distill.build_student`), trained in
            place, or an `ArchSpec`: then built here with `config.init` / `freeze_embeddings`
            / `seed`, over the cache's (or the restricted teacher's) Vocab.
        config: the run's settings (`PretrainConfig()` when None).
        tokenizer: the teacher's tokenizer (masking, checks, export).
        train_blocks, heldout_blocks: (n, config.seq_len) LongTensors, e.g. from
            `bortkit.pretrain.mlm.corpus_blocks` (dynamic masking); not used with `cache`.
        teacher: a live teacher: a (restricted-head or full) MLM model (objective "kd") or any
            BERT encoder ("hidden"); None for "mlm" and with `cache`. Never trained.
        cache: the teacher-output cache (`bortkit.pretrain.cache.teacher_cache`, built or
            opened): batches, masks and the teacher's top-k logits come from it (objectives
            "kd" and "mlm"; see `bortkit.pretrain.batches.CacheSource`).
        corpus: with `cache`, the corpus the run is meant for: a cache built from another
            corpus is a `ValueError` (None: not checked).
        output_dir: where checkpoints, `model/`, `mlm/` and `result.json` go; None = in memory
            only.
        resume: continue from the newest checkpoint in `output_dir` (if any).
        progress: show a tqdm bar.
        callbacks: objects with optional `on_step_end(step, loss)` / `on_eval(step, MlmEval)`.
        accelerator: an `accelerate.Accelerator` (when None, one on `device`). Under
            ``accelerate launch --num_processes N`` (or torchrun) each process trains on its
            shard of the global batch and gradients are averaged (DDP; gloo on CPUs).
        threads: torch intra-op threads during the run (None: unchanged; 1 is faster on a busy
            shared machine).
        device: "auto" (CUDA when present), "cpu" or "cuda" (each process then takes the GPU
            of its local rank); ignored when `accelerator` is given. "cuda" without a GPU is a
            `ValueError`.

    Returns:
        PretrainResult with the learning curve and the final held-out metrics.
    """
    if accelerator is None:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=resolve_device(device) == "cpu")
    with torch_threads(threads):
        return _pretrain(student, config or PretrainConfig(), tokenizer=tokenizer,
                         train_blocks=train_blocks, heldout_blocks=heldout_blocks,
                         teacher=teacher, cache=cache, corpus=corpus, output_dir=output_dir,
                         resume=resume, progress=progress, callbacks=callbacks,
                         accelerator=accelerator)


def _pretrain(student: Any, cfg: PretrainConfig, *, tokenizer: Any, train_blocks: Any,
              heldout_blocks: Any, teacher: Any | None, cache: Any, corpus: Corpus | None,
              output_dir: str | os.PathLike[str] | None, resume: bool, progress: bool,
              callbacks: Sequence[Any], accelerator: Any) -> PretrainResult:
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    if cache is not None:
        cache = cache if isinstance(cache, CachedOutputs) else cache.open()
        if teacher is not None:
            raise ValueError("give the teacher's outputs as cache= or a live teacher=, not both")
    elif train_blocks is None or heldout_blocks is None:
        raise ValueError("pretrain needs cache= (the teacher-output cache) or train_blocks= "
                         "and heldout_blocks=")
    if isinstance(student, ArchSpec):
        student = _new_student(student, cfg, tokenizer, cache=cache, teacher=teacher)
    check_vocab(student, tokenizer, teacher=teacher if cfg.objective == "kd" else None)
    if cfg.objective == "mlm":
        teacher = None
    if cfg.seq_len > student.config.max_position_embeddings:
        raise ValueError(f"seq_len={cfg.seq_len} exceeds the student's max_position_embeddings="
                         f"{student.config.max_position_embeddings}")
    out = Path(output_dir) if output_dir is not None else None
    if cfg.checkpoint_every and out is None:
        raise ValueError("checkpoint_every > 0 needs an output_dir")
    if resume and out is None:
        raise ValueError("resume=True needs an output_dir")

    acc = accelerator
    world, rank = acc.num_processes, acc.process_index
    if cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the {world} processes")

    source: BlockSource | CacheSource = (
        CacheSource(student, cfg, cache=cache, tokenizer=tokenizer, device=acc.device,
                    corpus=corpus) if cache is not None
        else BlockSource(student, cfg, tokenizer=tokenizer, train_blocks=train_blocks,
                         heldout_blocks=heldout_blocks))
    module = make_distiller(student, teacher, objective=cfg.objective, cached=cache is not None)
    optimizer = torch.optim.AdamW(_param_groups(module, cfg.weight_decay), lr=cfg.lr)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * cfg.steps), cfg.steps)
    module, optimizer, scheduler = acc.prepare(module, optimizer, scheduler)
    if teacher is not None:
        teacher = teacher.to(acc.device).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)

    curve, start, elapsed = LearningCurve(), 0, 0.0
    ckpt_root = out / CKPT_DIR if out is not None else None
    if resume and out is not None:
        last = latest_checkpoint(out)
        if last is not None:
            state = load_json(last / STATE_NAME)
            _check_resumable(state["config"], cfg)
            if state.get("data", source.key) != source.key:
                raise ValueError(f"cannot resume: the checkpoint trained on {state['data']}, "
                                 f"this run on {source.key}")
            acc.load_state(str(last))
            curve = LearningCurve.from_dict(state["curve"])
            start, elapsed = int(state["step"]), float(state["seconds"])
            logger.info("resumed from %s (step %d)", last, start)
    elif ckpt_root is not None and ckpt_root.is_dir() and acc.is_main_process:
        # a fresh run must never be resumed later from another run's leftover checkpoints
        shutil.rmtree(ckpt_root)
    resumed_from = start

    unwrapped = acc.unwrap_model(module)
    inner = unwrapped.student

    def evaluate() -> tuple[MlmEval, float]:
        return source.evaluate(inner, acc.device)

    bar = tqdm(total=cfg.steps, initial=start, disable=not (progress and acc.is_main_process),
               desc=f"pretrain {cfg.objective}", leave=False)
    t0 = time.perf_counter() - elapsed
    module.train()
    last_loss = curve.train_loss[-1] if curve.train_loss else float("nan")
    for step in range(start, cfg.steps):
        b = source.batch(step, rank, world, acc.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_of(cfg.seed, 3, step, rank))  # dropout
            parts = module(b.input_ids, b.attention_mask, b.labels, teacher, cfg, b.masked,
                           b.values, b.indices)
            acc.backward(parts.total)
        if cfg.grad_clip is not None:
            acc.clip_grad_norm_(module.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        clip_weights_(module, cfg.clip_weights)
        stats = acc.reduce(torch.stack([parts.total.detach(), parts.mlm, parts.kd]).float(),
                           reduction="mean")
        last_loss = float(stats[0])
        done = step + 1
        curve = curve.add_step(done, last_loss, float(stats[1]), float(stats[2]),
                               time.perf_counter() - t0)
        for cb in callbacks:
            if hasattr(cb, "on_step_end"):
                cb.on_step_end(done, last_loss)
        bar.update(1)
        bar.set_postfix(loss=f"{last_loss:.4f}")
        if cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.steps:
            ev, kl = evaluate()
            curve = curve.add_eval(done, ev, kl)
            module.train()
            for cb in callbacks:
                if hasattr(cb, "on_eval"):
                    cb.on_eval(done, ev)
        if (ckpt_root is not None and cfg.checkpoint_every and done % cfg.checkpoint_every == 0
                and done < cfg.steps):
            state = {"step": done, "seconds": time.perf_counter() - t0, "config": cfg.to_dict(),
                     "curve": curve.to_dict(), "data": source.key}
            _save_checkpoint(acc, ckpt_root, done, state, cfg.keep_checkpoints)
    bar.close()

    if not curve.eval_steps or curve.eval_steps[-1] != cfg.steps:
        final, kl = evaluate()
        curve = curve.add_eval(cfg.steps, final, kl)
        for cb in callbacks:
            if hasattr(cb, "on_eval"):
                cb.on_eval(cfg.steps, final)
    else:
        final = MlmEval(1.0 - curve.eval_error[-1], curve.eval_loss[-1], 0)
    seconds = time.perf_counter() - t0
    model_dir = mlm_dir = None
    if out is not None:
        acc.wait_for_everyone()
        if acc.is_main_process:
            model_dir, mlm_dir = export_student(inner, tokenizer, out)
    extra = {"teacher_accuracy": source.teacher_eval().accuracy} if cache is not None else {}
    result = PretrainResult(cfg, curve, final, last_loss, cfg.steps, seconds,
                            sum(p.numel() for p in inner.parameters()), resumed_from, model_dir,
                            extra, spec=_spec_of(inner), mlm_dir=mlm_dir)
    if out is not None and acc.is_main_process:
        result.save(out)
    return result


def _new_student(spec: ArchSpec, cfg: PretrainConfig, tokenizer: Any, *, cache: Any,
                 teacher: Any) -> Any:
    """The student `config.init` describes, over the cache's (or restricted teacher's) Vocab."""
    if cache is not None:
        return build_student(spec, tokenizer, seed=cfg.seed, vocab=cache.vocab, init=cfg.init,
                             pca=cache.pca, freeze_embeddings=cfg.freeze_embeddings)
    vocab = output_vocab(teacher) if teacher is not None else None
    if vocab is None:  # full-vocabulary student: random init only
        return build_student(spec, tokenizer, seed=cfg.seed, init=cfg.init,
                             freeze_embeddings=cfg.freeze_embeddings)
    pca = embedding_pca(teacher) if cfg.init == "pca" else None
    return build_student(spec, tokenizer, seed=cfg.seed, vocab=vocab, init=cfg.init, pca=pca,
                         teacher=teacher, freeze_embeddings=cfg.freeze_embeddings)


def _spec_of(model: Any) -> ArchSpec:
    """The `ArchSpec` of an HF BERT model, from its config."""
    c = model.config
    return ArchSpec(c.num_hidden_layers, c.num_attention_heads, c.hidden_size,
                    c.intermediate_size, c.vocab_size, c.max_position_embeddings,
                    c.type_vocab_size)


def resolve_arch(arch: str = "", *, fptas_dir: str | os.PathLike[str] = "",
                 default: str = "4,4,256,192") -> ArchSpec:
    """The architecture to pretrain: `arch` if given, else the FPTAS choice, else `default`.

    Args:
        arch: a preset name, ``"D,A,H,I[,V]"`` or an FPTAS output folder; "" to defer to
            `fptas_dir`.
        fptas_dir: an FPTAS output folder (notebook 02, `bortkit fptas`): its result's chosen
            shape (`bortkit.search.load_result(fptas_dir).chosen.spec`); "" for none.
        default: used when neither gives an architecture (a Bort-like small shape: Bort's
            D=4 and I/H=0.75, at H=256 for 2 CPU cores, in the teacher's vocabulary).

    Raises:
        FileNotFoundError: a folder given holds no FPTAS result.
        ValueError: `arch` is neither a folder nor a valid spec.
    """
    if arch and arch.strip():
        folder = Path(arch).expanduser()
        return load_result(folder).chosen.spec if folder.is_dir() else parse_spec(arch)
    if fptas_dir and str(fptas_dir).strip():
        return load_result(Path(fptas_dir).expanduser()).chosen.spec
    return parse_spec(default)


__all__ = [
    "CKPT_DIR",
    "latest_checkpoint",
    "pretrain",
    "resolve_arch",
]
