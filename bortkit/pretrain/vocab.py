"""The restricted output vocabulary shared by the teacher's MLM head, the cache and the students.

Project choice (documented in docs/design/pretrain.md): masked-token prediction is scored over the
`size` most frequent corpus tokens plus the tokenizer's special tokens, not over all 30,522
WordPiece ids. On the bundled corpus the top 8,192 tokens cover ~94% of corpus tokens (top-4,096:
86%; only ~20,700 ids ever occur), and the V×H output layer, which dominated every CPU training
step, shrinks 3.7×. Inputs keep the full vocabulary; only the prediction targets are restricted.
Masked positions whose true token is outside the vocabulary are not scored (label -100).

`Vocab.unigram` is the corpus frequency of each kept token: the "unigram predictor" that the
normalised surrogate error puts at 1 (the teacher is at 0).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from bortkit.records import Record, check_positive_int

DEFAULT_SIZE = 8192  # project choice: top-8,192 corpus tokens (~94% coverage)


@dataclass(frozen=True)
class Vocab(Record):
    """A restricted vocabulary: which full-vocabulary ids are kept, in which order.

    Attributes:
        ids: the kept full-vocabulary token ids; restricted index k is `ids[k]`.
        counts: corpus count of each kept id (same order; specials count 0 unless they occur).
        coverage: fraction of all corpus tokens (specials excluded) that are kept.
        full_size: size of the full vocabulary (the tokenizer's length).
    """

    ids: tuple[int, ...]
    counts: tuple[int, ...]
    coverage: float
    full_size: int

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.counts):
            raise ValueError(f"Vocab: {len(self.ids)} ids but {len(self.counts)} counts")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("Vocab.ids holds duplicates")
        if self.ids and (min(self.ids) < 0 or max(self.ids) >= self.full_size):
            raise ValueError(f"Vocab.ids must lie in [0, {self.full_size})")

    @property
    def size(self) -> int:
        """K, the number of kept tokens (the width of every restricted output layer)."""
        return len(self.ids)

    @property
    def key(self) -> str:
        """A short hash of the kept ids (cache keys include it)."""
        blob = np.asarray(self.ids, dtype=np.int64).tobytes() + str(self.full_size).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def lookup(self) -> np.ndarray:
        """Full id → restricted index, -1 where the token is not kept; shape (full_size,)."""
        table = np.full(self.full_size, -1, dtype=np.int64)
        table[np.asarray(self.ids, dtype=np.int64)] = np.arange(self.size)
        return table

    def unigram(self, *, smoothing: float = 1.0) -> np.ndarray:
        """The corpus unigram distribution over the kept tokens (add-`smoothing`), shape (K,)."""
        counts = np.asarray(self.counts, dtype=np.float64) + smoothing
        return counts / counts.sum()


def build_vocab(token_ids: Any, *, full_size: int, special_ids: Any = (),
                size: int = DEFAULT_SIZE) -> Vocab:
    """The `size` most frequent ids of `token_ids` plus `special_ids` (specials first).

    Args:
        token_ids: any array-like of corpus token ids (e.g. the training blocks, any shape).
        full_size: the tokenizer's vocabulary size.
        special_ids: ids always kept ([PAD], [UNK], [CLS], [SEP], [MASK]); not in coverage.
        size: how many non-special tokens to keep (ties broken by the smaller id: deterministic).
    """
    check_positive_int("size", size)
    check_positive_int("full_size", full_size)
    ids = np.asarray(token_ids, dtype=np.int64).ravel()
    if ids.size and (ids.min() < 0 or ids.max() >= full_size):
        raise ValueError(f"token ids must lie in [0, {full_size}), got [{ids.min()}, {ids.max()}]")
    specials = sorted({int(s) for s in special_ids})
    counts = np.bincount(ids, minlength=full_size)
    ordinary = counts.copy()
    ordinary[specials] = 0
    # Stable sort by count descending: equal counts keep ascending id order.
    order = np.argsort(-ordinary, kind="stable")
    kept = [int(i) for i in order[:size] if ordinary[i] > 0]
    total = int(ordinary.sum())
    coverage = float(ordinary[kept].sum() / total) if total else 0.0
    all_ids = tuple(specials + kept)
    return Vocab(ids=all_ids, counts=tuple(int(counts[i]) for i in all_ids),
                 coverage=coverage, full_size=int(full_size))


__all__ = ["DEFAULT_SIZE", "Vocab", "build_vocab"]
