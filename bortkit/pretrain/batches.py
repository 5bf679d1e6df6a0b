"""Where each pretraining step's batch, and each held-out evaluation, come from.

`bortkit.pretrain.engine.pretrain` reads one of two sources through the same two calls,
``batch(step, rank, world, device) -> StepBatch`` and ``evaluate(model) -> (MlmEval, kl)``:

- `BlockSource`: corpus blocks (`bortkit.pretrain.mlm.corpus_blocks`) with BERT dynamic masking
  (a new mask every step) and a live teacher, if any. Exact resume: nothing random depends on
  hidden state. Global batch k is rows k·B … (k+1)·B−1 of an endless stream whose epoch e is a
  permutation of the blocks drawn from a generator seeded by (seed, e); the masks of step k come
  from a generator seeded by (seed, k), drawn for the global batch and then sharded
  (``rows[rank::world]``), so they do not depend on the number of processes. Held-out: the
  first blocks, masked with `eval_seed` (the same positions for every model).
- `CacheSource` (project choice for KD past the plateau on a CPU): the teacher-output cache
  (`bortkit.pretrain.cache`). Batch k is rows k·B … (k+1)·B−1 of the cached stream (wrapping
  around after its last row), with the cache's fixed masks and the teacher's top-k logits at the
  masked positions, so a step costs only the student (no teacher forward). Process r of w takes
  the contiguous rows k·B + r·B/w … of that batch. Held-out: the cache's first `eval_blocks`
  held-out rows; besides accuracy and loss over the restricted labels it gives the surrogate's
  normalised KL (0 = the teacher, 1 = the unigram predictor; `bortkit.pretrain.surrogate`).
  Masks are static: a run longer than the stored stream sees the same masked rows again.

`check_cache` is the one place a student, tokenizer or corpus that does not fit a cache is
refused, with one clear error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bortkit.data.corpus import Corpus
from bortkit.pretrain.cache import CachedOutputs, TeacherCache, tokenizer_id
from bortkit.pretrain.cached_kd import cached_tensors, heldout_metrics, stream_rows, student_logits
from bortkit.pretrain.distill import output_vocab
from bortkit.pretrain.mlm import MlmEval, evaluate_mlm, mask_batch
from bortkit.pretrain.teacher_head import evaluate_teacher, restricted_labels


def seed_of(*parts: int) -> int:
    """A 63-bit seed derived from integer parts (numpy's SeedSequence: well mixed, stable)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0]
               % (2**63 - 1))


@dataclass(frozen=True, eq=False)
class StepBatch:
    """One process's share of a step's batch (tensors on the training device; not a Record).

    Attributes:
        input_ids, attention_mask: (b, seq) masked inputs.
        labels: (b, seq) gold tokens in the student's OUTPUT vocabulary (full ids, or restricted
            indices for a restricted student); -100 where not scored.
        masked: (b, seq) bool, the positions the student predicts (a masked token outside a
            restricted vocabulary is predicted for KD but not scored by the cross-entropy).
        values, indices: (m, k) the cached teacher's top-k logits at the masked positions, row-
            major order (None for a live teacher).
    """

    input_ids: Any
    attention_mask: Any
    labels: Any
    masked: Any
    values: Any = None
    indices: Any = None


class BatchPlan:
    """Global batch k = rows k·B … (k+1)·B−1 of an endless stream of per-epoch permutations."""

    def __init__(self, n_blocks: int, batch_size: int, seed: int) -> None:
        self.n, self.b, self.seed = n_blocks, batch_size, seed
        self._perms: dict[int, Any] = {}

    def _perm(self, epoch: int) -> Any:
        import torch

        if epoch not in self._perms:
            gen = torch.Generator().manual_seed(seed_of(self.seed, 1, epoch))
            self._perms = {epoch: torch.randperm(self.n, generator=gen)}
        return self._perms[epoch]

    def indices(self, step: int) -> Any:
        import torch

        out = []
        for pos in range(step * self.b, (step + 1) * self.b):
            out.append(int(self._perm(pos // self.n)[pos % self.n]))
        return torch.tensor(out, dtype=torch.long)


class BlockSource:
    """Corpus blocks with dynamic masking (see the module doc)."""

    def __init__(self, student: Any, cfg: Any, *, tokenizer: Any, train_blocks: Any,
                 heldout_blocks: Any) -> None:
        seq_len = int(train_blocks.shape[1])
        if seq_len != cfg.seq_len or int(heldout_blocks.shape[1]) != cfg.seq_len:
            raise ValueError(f"blocks of {seq_len} (train) and {int(heldout_blocks.shape[1])} "
                             f"(held-out) tokens, but config.seq_len={cfg.seq_len}")
        if len(train_blocks) < 1 or len(heldout_blocks) < 1:
            raise ValueError("pretrain needs at least one training and one held-out block")
        self.student, self.cfg, self.tokenizer = student, cfg, tokenizer
        self.train, self.heldout = train_blocks, heldout_blocks
        self.plan = BatchPlan(len(train_blocks), cfg.batch_size, cfg.seed)
        self.restricted = output_vocab(student) is not None
        self.key = f"blocks:{len(train_blocks)}x{seq_len}"

    def batch(self, step: int, rank: int, world: int, device: Any) -> StepBatch:
        import torch

        cfg = self.cfg
        gen = torch.Generator().manual_seed(seed_of(cfg.seed, 2, step))
        inputs, labels = mask_batch(self.train[self.plan.indices(step)], self.tokenizer,
                                    mlm_probability=cfg.mlm_probability, generator=gen)
        inputs, labels = inputs[rank::world].to(device), labels[rank::world].to(device)
        masked = labels != -100
        if self.restricted:
            labels = restricted_labels(self.student, labels)
        return StepBatch(inputs, torch.ones_like(inputs), labels, masked)

    def evaluate(self, model: Any, device: Any) -> tuple[MlmEval, float]:
        cfg = self.cfg
        if self.restricted:
            ev = evaluate_teacher(model, self.heldout.to(device), self.tokenizer, batch_size=64,
                                  seed=cfg.eval_seed, mlm_probability=cfg.mlm_probability)
            return MlmEval(ev.accuracy, ev.loss, ev.n_tokens), math.nan
        return evaluate_mlm(model, self.heldout.to(device), self.tokenizer, batch_size=64,
                            seed=cfg.eval_seed, mlm_probability=cfg.mlm_probability), math.nan


def check_cache(student: Any, tokenizer: Any, outputs: CachedOutputs, *,
                corpus: Corpus | None = None) -> None:
    """Raise one clear `ValueError` when `student`, `tokenizer` or `corpus` do not fit the cache.

    Checks: the student has a restricted head over the cache's Vocab (same key), its input
    vocabulary is the cache tokenizer's size, `tokenizer` is the tokenizer the cache was built
    with, and `corpus` (when given) is the corpus it was built from.
    """
    meta = outputs.meta
    where = meta.path or "the teacher cache"
    vocab = output_vocab(student)
    if vocab is None:
        raise ValueError(f"{where}: the student has a full-vocabulary MLM head, the cached "
                         f"teacher predicts a restricted Vocab of K={meta.vocab_size}; build the "
                         f"student with vocab=cache.vocab (distill.build_student)")
    if vocab.key != meta.vocab_key:
        raise ValueError(f"{where}: the student's output Vocab (key {vocab.key}, K={vocab.size}) "
                         f"differs from the cached teacher's (key {meta.vocab_key}, "
                         f"K={meta.vocab_size}); build the student with vocab=cache.vocab")
    n_in = int(student.config.vocab_size)
    if tokenizer is not None:
        tok = tokenizer_id(tokenizer)
        if tok != meta.tokenizer:
            raise ValueError(f"{where}: built with tokenizer {meta.tokenizer}, not {tok}; "
                             f"the student must use the teacher's tokenizer")
    if n_in != vocab.full_size:
        raise ValueError(f"{where}: the student's input vocabulary has {n_in} tokens, the "
                         f"teacher's tokenizer {vocab.full_size}")
    if corpus is not None and getattr(corpus, "key", "") != meta.corpus_key:
        raise ValueError(f"{where}: this teacher cache was built from corpus "
                         f"{meta.corpus_key!r}, not {getattr(corpus, 'key', '')!r}; build a "
                         f"cache for this corpus (bortkit.pretrain.cache.teacher_cache)")


class CacheSource:
    """The teacher-output cache (see the module doc)."""

    def __init__(self, student: Any, cfg: Any, *, cache: TeacherCache | CachedOutputs,
                 tokenizer: Any, device: Any, corpus: Corpus | None = None) -> None:
        outputs = cache if isinstance(cache, CachedOutputs) else cache.open()
        check_cache(student, tokenizer, outputs, corpus=corpus)
        if outputs.meta.config.seq_len != cfg.seq_len:
            raise ValueError(f"the teacher cache holds {outputs.meta.config.seq_len}-token "
                             f"sequences, but config.seq_len={cfg.seq_len}")
        if cfg.seq_len > student.config.max_position_embeddings:
            raise ValueError(f"seq_len={cfg.seq_len} exceeds the student's "
                             f"max_position_embeddings={student.config.max_position_embeddings}")
        self.cfg, self.outputs = cfg, outputs
        self.train, heldout, self.log_unigram = cached_tensors(outputs, str(device))
        self.heldout = heldout.rows(0, min(cfg.eval_blocks, len(heldout)))
        self.key = f"cache:{outputs.meta.key}"

    def batch(self, step: int, rank: int, world: int, device: Any) -> StepBatch:
        share = self.cfg.batch_size // world
        b = stream_rows(self.train, step * self.cfg.batch_size + rank * share, share)
        return StepBatch(b.input_ids, b.attention_mask, b.labels, b.masked, b.values, b.indices)

    def evaluate(self, model: Any, device: Any) -> tuple[MlmEval, float]:
        was_training = model.training
        model.eval()
        try:
            m = heldout_metrics(student_logits(model), self.heldout, self.log_unigram)
        finally:
            model.train(was_training)
        return MlmEval(m.accuracy, m.loss, m.n_scored), m.kl

    def teacher_eval(self) -> MlmEval:
        """The teacher's own accuracy on the same held-out rows (its cached top-1); its loss is
        not stored (NaN)."""
        h = self.heldout
        gold = h.labels[h.masked]
        keep = gold != -100
        top1 = h.indices[:, 0]
        n = int(keep.sum())
        return MlmEval(float((top1[keep] == gold[keep]).float().mean()) if n else math.nan,
                       math.nan, n)


__all__ = [
    "BatchPlan",
    "BlockSource",
    "CacheSource",
    "StepBatch",
    "check_cache",
    "seed_of",
]
