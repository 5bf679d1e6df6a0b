"""Training and evaluating a restricted-head student against the teacher-output cache.

The mechanics the FPTAS surrogate (`bortkit.pretrain.surrogate`) and the pretraining engine's
cached source (`bortkit.pretrain.batches`) share: the cache's splits as tensors on a device
(`cached_tensors`, once per process), consecutive rows of the cached stream with wrap-around
(`stream_rows`), AdamW training on the top-k KD loss (`train_student`), and the held-out metrics
(`heldout_metrics`): the normalised KL error (0 = the teacher's top-k distribution, 1 = the
unigram predictor), accuracy and cross-entropy over the restricted labels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from bortkit.pretrain.cache import CachedOutputs
from bortkit.pretrain.cache_arrays import CacheSplit
from bortkit.pretrain.distill import topk_kd_loss, topk_kl
from bortkit.records import Record
from bortkit.theta import Theta


@functools.lru_cache(maxsize=8)
def cached_tensors(outputs: CachedOutputs, device: str) -> tuple[CacheSplit, CacheSplit, Any]:
    """The train and held-out splits and the log unigram as tensors on `device`."""
    import torch

    log_u = torch.log(torch.as_tensor(outputs.unigram(), dtype=torch.float32)).to(device)
    return outputs.split("train").to(device), outputs.split("heldout").to(device), log_u


def stream_rows(split: CacheSplit, start: int, n: int) -> CacheSplit:
    """Rows start … start + n − 1 of `split`, wrapping around after its last row."""
    import torch

    total = len(split)
    start %= total
    if start + n <= total:
        return split.rows(start, start + n)
    parts = [split.rows(start, total)]
    left = n - (total - start)
    while left > 0:
        take = min(left, total)
        parts.append(split.rows(0, take))
        left -= take
    offsets, base = [parts[0].offsets], parts[0].offsets[-1]
    for p in parts[1:]:
        offsets.append(p.offsets[1:] + base)
        base = base + p.offsets[-1]
    cat = torch.cat
    return CacheSplit(cat([p.input_ids for p in parts]), cat([p.attention_mask for p in parts]),
                      cat([p.masked for p in parts]), cat([p.labels for p in parts]),
                      cat(offsets), cat([p.values for p in parts]),
                      cat([p.indices for p in parts]))


def student_logits(model: Any) -> Callable[[Any, Any, Any], Any]:
    """`(input_ids, attention_mask, masked) -> (n_masked, K)` logits of a restricted student."""
    def logits(input_ids: Any, attention_mask: Any, masked: Any) -> Any:
        hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return model.cls(hidden[masked])

    return logits


@dataclass(frozen=True)
class HeldoutMetrics(Record):
    """Held-out metrics of a predictor against the cached teacher (see the module doc)."""

    kl: float
    kl_nats: float
    accuracy: float
    loss: float
    n_positions: int
    n_scored: int


def heldout_metrics(logits_fn: Callable[[Any, Any, Any], Any], heldout: CacheSplit,
                    log_unigram: Any, *, chunk: int = 64) -> HeldoutMetrics:
    """Normalised KL, accuracy and loss of `logits_fn` on the held-out rows (tensors).

    Args:
        logits_fn: `(input_ids, attention_mask, masked) -> (n_masked, K)` logits.
        heldout: the held-out `CacheSplit` as tensors on the predictor's device.
        log_unigram: (K,) log of the unigram distribution (the normaliser's predictor).
        chunk: rows per forward pass.
    """
    import torch
    import torch.nn.functional as F

    kl_s = kl_u = ce = 0.0
    correct = scored = positions = 0
    with torch.inference_mode():
        for start in range(0, len(heldout), chunk):
            b = heldout.rows(start, min(start + chunk, len(heldout)))
            z = logits_fn(b.input_ids, b.attention_mask, b.masked).float()  # (m, K)
            if z.shape[0] == 0:
                continue
            kl_s += float(topk_kl(z, b.values, b.indices).sum())
            kl_u += float(topk_kl(log_unigram.expand_as(z), b.values, b.indices).sum())
            positions += int(z.shape[0])
            gold = b.labels[b.masked]
            keep = gold != -100
            if bool(keep.any()):
                ce += float(F.cross_entropy(z[keep], gold[keep], reduction="sum"))
                correct += int((z[keep].argmax(-1) == gold[keep]).sum())
                scored += int(keep.sum())
    if positions == 0 or kl_u <= 0:
        raise ValueError("heldout_metrics: no masked held-out position (or a teacher equal to "
                         "the unigram predictor); build a larger cache")
    return HeldoutMetrics(kl=kl_s / kl_u, kl_nats=kl_s / positions,
                          accuracy=correct / scored if scored else float("nan"),
                          loss=ce / scored if scored else float("nan"), n_positions=positions,
                          n_scored=scored)


def _param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def train_student(student: Any, batches: Callable[[int], CacheSplit], *, steps: int,
                  theta: Theta, device: str, w_kd: float = 1.0, w_mlm: float = 0.0,
                  temperature: float = 1.0, grad_clip: float | None = 1.0) -> list[float]:
    """`steps` AdamW steps (linear warm-up, then linear decay to 0) on `batches(step)`.

    Args:
        student: a restricted-head student (`bortkit.pretrain.init`; trained in place, on
            `device`).
        batches: the batch of each step, as tensors on `device` (e.g. `stream_rows` of the
            cached stream).
        steps: optimiser steps.
        theta: lr, warmup_ratio, weight_decay and seed (dropout) of the run.
        device: where the student runs.
        w_kd, w_mlm, temperature: `bortkit.pretrain.distill.topk_kd_loss`.
        grad_clip: max global gradient norm (None: off).

    Returns:
        The training loss of every step.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    th = theta
    student.to(device).train()
    opt = torch.optim.AdamW(_param_groups(student, th.weight_decay), lr=th.lr)
    sched = get_linear_schedule_with_warmup(opt, int(th.warmup_ratio * steps), steps)
    params = [p for p in student.parameters() if p.requires_grad]
    logits_of = student_logits(student)
    losses = []
    with torch.random.fork_rng(devices=[device] if device.startswith("cuda") else []):
        torch.manual_seed(th.seed)  # dropout
        for step in range(steps):
            b = batches(step)
            z = logits_of(b.input_ids, b.attention_mask, b.masked)
            parts = topk_kd_loss(z, b.values, b.indices, b.labels[b.masked], w_mlm=w_mlm,
                                 w_kd=w_kd, temperature=temperature)
            parts.total.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(parts.total.detach()))
    student.eval()
    return losses


__all__ = [
    "HeldoutMetrics",
    "cached_tensors",
    "heldout_metrics",
    "stream_rows",
    "student_logits",
    "train_student",
]
