"""The teacher's training loop: two learning rates, a head-only warm-start, resumable checkpoints.

`train` runs the MLM steps of a `RestrictedBertForMaskedLM` (`bortkit.pretrain.teacher_head`)
for a `bortkit.pretrain.teacher.TeacherConfig` and, when given a work folder, writes a checkpoint
every ``checkpoint_every`` steps: the model (`save_pretrained`: safetensors + vocab.json) and
``trainer_state.pt`` (optimiser, scheduler, torch and data RNG states, data order and position,
history, losses, seconds so far), into a temporary folder renamed into place, so a SIGKILL leaves
either the previous checkpoint or the new one, never half of one. `latest_checkpoint` finds the
newest; `train` resumes from it and continues the step count. `announce` is the build's one
warning line.

The config is duck-typed here (the records live in `bortkit.pretrain.teacher`, which calls this
module: importing them back would be a cycle).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bortkit.pretrain.mlm import mask_batch
from bortkit.pretrain.teacher_head import (
    TeacherEval,
    autocast,
    evaluate_teacher,
    model_class,
    restricted_labels,
    restricted_logits,
    teacher_vocab,
)
from bortkit.utils import quiet_transformers

STATE_NAME = "trainer_state.pt"
# Measured seconds per step of the default MiniLM build on a quiet 2-core AVX512-BF16 CPU
# (docs/results.md "Teacher"); only the announcement's time estimate uses them.
_QUIET_S_PER_STEP = {"bf16": 0.45, "fp32": 0.85}
_MINILM_PARAMS = 25.9e6  # the default teacher: MiniLM encoder + K = 8,197 head
_PREFIX = "ckpt-"
_NO_DECAY = ("bias", "LayerNorm.weight")


@dataclass(frozen=True)
class Trained:
    """What `train` measured (not a Record: `adapt_teacher` folds it into a `TeacherResult`)."""

    before: TeacherEval
    after: TeacherEval
    history: tuple[TeacherEval, ...]
    seconds: float
    train_losses: tuple[float, ...]
    resumed_from: tuple[int, ...]


def _expected_minutes(cfg: Any, n_params: int, precision: str, steps: int) -> float:
    """The announcement's estimate: measured quiet s/step scaled by model and batch size."""
    scale = n_params / _MINILM_PARAMS * cfg.batch_size * cfg.seq_len / (32 * 64)
    return steps * _QUIET_S_PER_STEP[precision] * scale / 60


def announce(logger: logging.Logger, cfg: Any, final: Path | None, *, n_params: int,
             device: str, precision: str, resume_step: int | None) -> None:
    """The build's one warning line: what, why, expected time, where, how to skip."""
    where = "on a GPU: much less" if device.startswith("cuda") else "on a quiet 2-core CPU"
    start = f", resuming at step {resume_step}" if resume_step else ""
    minutes = _expected_minutes(cfg, n_params, precision, cfg.steps - (resume_step or 0))
    expect = f"~{minutes:.0f} min" if minutes >= 1 else "under a minute"
    cached = (f"cached at {final} (checkpoints in {final.name}.build)" if final is not None
              else "not cached (cache=False)")
    logger.warning(
        "building the MLM teacher (%d steps%s): the shipped MiniLM has no MLM head, so one is "
        "trained once; expect %s (%s, %s); %s; for a quicker, weaker teacher pass a smaller "
        "--teacher-steps (TeacherConfig(steps=...))",
        cfg.steps, start, expect, where, precision, cached)


def latest_checkpoint(work_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder under `work_dir` (None when there is none).

    A checkpoint is complete when its folder exists under its final name: it is renamed there
    only after every file was written.
    """
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    done = sorted(p for p in work_dir.glob(f"{_PREFIX}*") if (p / STATE_NAME).is_file())
    return done[-1] if done else None


def _schedule(cfg: Any) -> tuple[Callable[[int], float], Callable[[int], float]]:
    """LR factors (head, body) of step index t: linear warm-up then linear decay to 0.

    The body starts after the head-only steps and warms up over its own share of steps.
    """
    def ramp(t: int, start: int) -> float:
        n = cfg.steps - start
        warm = max(1, int(cfg.warmup_ratio * n))
        s = t - start
        if s < 0:
            return 0.0
        if s < warm:
            return (s + 1) / warm
        return max(0.0, (n - s) / max(1, n - warm))

    return (lambda t: ramp(t, 0)), (lambda t: ramp(t, cfg.head_only_steps))


def _optimizer(model: Any, cfg: Any) -> tuple[Any, Any]:
    """AdamW with head/body × decay/no-decay groups, and its LambdaLR schedule."""
    import torch

    groups, lambdas = [], []
    head_fn, body_fn = _schedule(cfg)
    for part, lr, fn in ((model.cls, cfg.head_lr, head_fn), (model.bert, cfg.body_lr, body_fn)):
        named = [(n, p) for n, p in part.named_parameters() if p.requires_grad]
        for decay in (True, False):
            params = [p for n, p in named if n.endswith(_NO_DECAY) != decay]
            groups.append({"params": params, "lr": lr,
                           "weight_decay": cfg.weight_decay if decay else 0.0})
            lambdas.append(fn)
    opt = torch.optim.AdamW(groups)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambdas)


def _save(work_dir: Path, model: Any, state: dict[str, Any]) -> Path:
    """Write one checkpoint atomically (temp folder + rename); drop the older ones."""
    import torch

    work_dir.mkdir(parents=True, exist_ok=True)
    final = work_dir / f"{_PREFIX}{state['step']:07d}"
    tmp = Path(tempfile.mkdtemp(dir=work_dir, prefix=".tmp-"))
    try:
        with quiet_transformers():
            model.save_pretrained(tmp)
        torch.save(state, tmp / STATE_NAME)
        if final.exists():  # the same step written by an earlier session: replace it
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in work_dir.glob(f"{_PREFIX}*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def train(model: Any, tokenizer: Any, train_blocks: Any, held_blocks: Any, cfg: Any, *,
          device: str, precision: str, work_dir: Path | None = None, progress: bool = True,
          callback: Callable[[int, float], None] | None = None,
          log: Callable[[str], None] | None = None) -> tuple[Any, Trained]:
    """Run (or resume) the MLM steps of a restricted-head teacher.

    Args:
        model: a fresh `RestrictedBertForMaskedLM` (head warm-started); replaced by the
            checkpoint's model when resuming.
        tokenizer: the encoder's tokenizer (masking).
        train_blocks, held_blocks: (n, seq) LongTensors.
        cfg: a `TeacherConfig`.
        device: a resolved torch device; precision: "fp32" or "bf16".
        work_dir: checkpoint folder (None: no checkpoints, no resume).
        progress: show a tqdm bar.
        callback: ``callback(step, loss)`` after every step.
        log: called with a line at every held-out evaluation.

    Returns:
        (model in eval mode, `Trained`).
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    resume = latest_checkpoint(work_dir) if work_dir is not None else None
    if resume is not None:
        with quiet_transformers():
            loaded = model_class().from_pretrained(resume)
        if teacher_vocab(loaded) != teacher_vocab(model):
            raise ValueError(f"the checkpoint {resume} was built with another vocabulary; "
                             f"delete {work_dir} to rebuild")
        model = loaded
    model.to(device)
    if cfg.dropout is not None:  # the build's dropout only; the saved config keeps its own
        for module in model.bert.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = cfg.dropout
    if cfg.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    opt, sched = _optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]

    def evaluate(step: int, seconds: float) -> TeacherEval:
        ev = evaluate_teacher(model, held_blocks, tokenizer, batch_size=cfg.batch_size,
                              seed=cfg.seed, mlm_probability=cfg.mlm_probability,
                              precision=precision, step=step, seconds=seconds)
        if log is not None:
            log(f"step {step}: held-out restricted accuracy {ev.accuracy:.4f} loss "
                f"{ev.loss:.4f} (coverage {ev.coverage:.3f}, {seconds:.0f} s)")
        return ev

    if resume is not None:
        state = torch.load(resume / STATE_NAME, weights_only=True)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and device.startswith("cuda"):
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        gen.set_state(state["data_rng"])
        order, pos, start_step = state["order"], state["pos"], state["step"]
        history = [TeacherEval.from_dict(h) for h in state["history"]]
        before = TeacherEval.from_dict(state["before"])
        losses, spent = list(state["losses"]), state["seconds"]
        resumed = (*state["resumed_from"], start_step)
    else:
        torch.manual_seed(cfg.seed)
        order = torch.randperm(len(train_blocks), generator=gen)
        pos, start_step, history, losses, spent, resumed = 0, 0, [], [], 0.0, ()
        before = evaluate(0, 0.0)
    t0 = time.perf_counter()

    def elapsed() -> float:
        return spent + time.perf_counter() - t0

    train_p = cfg.train_mlm_probability or cfg.mlm_probability
    model.train()
    bar = tqdm(total=cfg.steps, initial=start_step, desc="teacher MLM head",
               disable=not progress)
    for step in range(start_step + 1, cfg.steps + 1):
        if pos + cfg.batch_size > len(order):  # new epoch, new seeded order
            order, pos = torch.randperm(len(train_blocks), generator=gen), 0
        batch = train_blocks[order[pos: pos + cfg.batch_size]]  # (batch, seq)
        pos += cfg.batch_size
        inputs, labels = mask_batch(batch, tokenizer, mlm_probability=train_p, generator=gen)
        inputs, labels = inputs.to(device), labels.to(device)
        positions = labels != -100
        gold = restricted_labels(model, labels[positions])  # (n_masked,), -100 outside
        with autocast(device, precision):
            if step <= cfg.head_only_steps:  # head-only warm-start: the body runs forward only
                with torch.no_grad():
                    hidden = model.bert(input_ids=inputs).last_hidden_state[positions]
                logits = model.cls(hidden)
            else:
                logits = restricted_logits(model, inputs, None, positions)
        loss = F.cross_entropy(logits.float(), gold, ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if callback is not None:
            callback(step, losses[-1])
        if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            history.append(evaluate(step, elapsed()))
            model.train()
        if (work_dir is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0
                and step < cfg.steps):
            _save(work_dir, model, {
                "step": step, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "torch_rng": torch.get_rng_state(), "data_rng": gen.get_state(),
                "cuda_rng": (torch.cuda.get_rng_state_all() if device.startswith("cuda")
                             else None),
                "order": order, "pos": pos, "history": [h.to_dict() for h in history],
                "before": before.to_dict(), "losses": losses, "seconds": elapsed(),
                "resumed_from": list(resumed)})
    bar.close()
    after = evaluate(cfg.steps, elapsed())
    history.append(after)
    model.eval()
    return model, Trained(before, after, tuple(history), elapsed(), tuple(losses),
                          tuple(resumed))


__all__ = ["STATE_NAME", "Trained", "announce", "latest_checkpoint", "train"]
