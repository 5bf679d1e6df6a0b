"""Masked-language-model utilities shared by teacher adaptation and KD pretraining.

The expensive part of an MLM step on a small model is the vocabulary projection: with
V = 30,522 and 15% masking, projecting every position costs ~6.7x more than projecting only
the masked ones. `masked_logits` runs the encoder on the whole sequence and the LM head
(`model.cls`) only at masked positions.

Masking is HF's own BERT 80/10/10 rule (`DataCollatorForLanguageModeling.torch_mask_tokens`),
driven by an explicit `torch.Generator` so that runs, resumes and held-out evaluations are
deterministic. `corpus_blocks` cuts a corpus into the training and held-out blocks every run
(teacher adaptation aside) reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from bortkit.records import Record

if TYPE_CHECKING:  # pragma: no cover - torch stays lazy: the CLI imports this module at start
    import torch


@dataclass(frozen=True)
class MlmEval(Record):
    """Held-out masked-token metrics. `error` = 1 − accuracy (the FPTAS surrogate)."""

    accuracy: float
    loss: float
    n_tokens: int

    @property
    def error(self) -> float:
        return 1.0 - self.accuracy

    # The JSON also carries the derived `error` for people reading result.json; it is not a
    # field, so `from_dict` drops it again (the one thing the plain Record idiom cannot do).
    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "error": self.error}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MlmEval:
        return super().from_dict({k: v for k, v in data.items() if k != "error"})


def _collator(tokenizer: Any, mlm_probability: float) -> Any:
    from transformers import DataCollatorForLanguageModeling

    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability!r}")
    if tokenizer.mask_token is None:
        raise ValueError(f"tokenizer {type(tokenizer).__name__} has no mask token; MLM needs one")
    return DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability)


def mask_batch(
    input_ids: torch.Tensor,
    tokenizer: Any,
    *,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT dynamic masking of a batch (80% [MASK], 10% random token, 10% kept).

    Args:
        input_ids: (batch, seq) token ids; not modified.
        tokenizer: the tokenizer whose special tokens are never masked.
        mlm_probability: fraction of non-special tokens selected.
        generator: the random source (the global RNG when None).

    Returns:
        (masked_input_ids, labels), both (batch, seq); labels are -100 where not selected.
    """
    collator = _collator(tokenizer, mlm_probability)
    collator.generator = generator
    return collator.torch_mask_tokens(input_ids.clone())


def masked_logits(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    labels: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LM-head logits at masked positions only.

    Args:
        model: a `BertForMaskedLM` (uses `model.bert` and `model.cls`).
        input_ids: (batch, seq) masked inputs.
        attention_mask: (batch, seq) or None.
        labels: (batch, seq), -100 at positions that are not predicted.

    Returns:
        (logits, gold): (n_masked, vocab) and (n_masked,).
    """
    hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    selected = labels != -100  # (batch, seq)
    return model.cls(hidden[selected]), labels[selected]  # (N, V), (N,)


def chunk_texts(texts: Sequence[str], tokenizer: Any, seq_len: int) -> torch.Tensor:
    """Concatenate tokenised texts and cut them into ``[CLS] … [SEP]`` blocks of `seq_len`.

    Every block is full (no padding); the trailing remainder is dropped.

    Returns:
        (n_blocks, seq_len) LongTensor.
    """
    import torch

    if seq_len < 8:
        raise ValueError(f"seq_len must be at least 8, got {seq_len}")
    if not texts:
        raise ValueError("chunk_texts: no texts given")
    body = seq_len - 2
    ids: list[int] = []
    encoded = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
    for row in encoded:
        ids.extend(row)
    n_blocks = len(ids) // body
    if n_blocks == 0:
        raise ValueError(
            f"chunk_texts: {len(ids)} tokens is less than one block of {seq_len}; give more text"
        )
    flat = torch.tensor(ids[: n_blocks * body], dtype=torch.long).view(n_blocks, body)
    cls = torch.full((n_blocks, 1), tokenizer.cls_token_id, dtype=torch.long)
    sep = torch.full((n_blocks, 1), tokenizer.sep_token_id, dtype=torch.long)
    return torch.cat([cls, flat, sep], dim=1)


def evaluate_mlm(
    model: Any,
    blocks: torch.Tensor,
    tokenizer: Any,
    *,
    batch_size: int = 32,
    seed: int = 0,
    mlm_probability: float = 0.15,
) -> MlmEval:
    """Masked-token accuracy and mean cross-entropy of `model` on held-out `blocks`.

    The masking is drawn from a generator seeded with `seed`, so two models evaluated with the
    same seed see exactly the same masked positions.
    """
    import torch
    import torch.nn.functional as F

    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    with torch.inference_mode():
        for start in range(0, len(blocks), batch_size):
            batch = blocks[start : start + batch_size]
            inputs, labels = mask_batch(batch, tokenizer, mlm_probability=mlm_probability,
                                        generator=gen)
            logits, gold = masked_logits(model, inputs, torch.ones_like(inputs), labels)
            if gold.numel() == 0:
                continue
            loss_sum += F.cross_entropy(logits.float(), gold, reduction="sum").item()
            correct += (logits.argmax(-1) == gold).sum().item()
            total += gold.numel()
    model.train(was_training)
    if total == 0:
        raise ValueError("evaluate_mlm: no token was masked; give more held-out text")
    loss = loss_sum / total
    return MlmEval(accuracy=correct / total, loss=loss if math.isfinite(loss) else float("nan"),
                   n_tokens=total)


@dataclass(frozen=True)
class Blocks:
    """Tokenised corpus blocks: (n, seq_len) LongTensors for training and held-out eval.

    Not a `Record`: it holds tensors and is never written to disk.
    """

    train: Any
    heldout: Any

    @property
    def seq_len(self) -> int:
        return int(self.train.shape[1])


_BLOCKS: dict[tuple[Any, ...], Blocks] = {}


def corpus_blocks(corpus: Any, tokenizer: Any, *, seq_len: int = 64,
                  max_train_blocks: int | None = None,
                  max_heldout_blocks: int | None = None,
                  max_chars: int | None = None) -> Blocks:
    """Cut a corpus's train and held-out texts into blocks (`chunk_texts`).

    Cached in-process by (corpus key, tokenizer name and size, seq_len, max_chars); the caps
    keep the first blocks (held-out blocks are the evaluation set, so a cap fixes it for all
    models). `max_chars` tokenises only the leading texts of each split up to about that many
    characters (smoke runs: skips tokenising the whole corpus).

    Args:
        corpus: a `bortkit.data.corpus.Corpus` (anything with ``train_texts``,
            ``heldout_texts`` and optionally ``key``).
        tokenizer: the teacher's tokenizer.
        seq_len: tokens per block.
        max_train_blocks, max_heldout_blocks: keep at most this many blocks (None: all).
        max_chars: tokenise at most about this many characters per split (None: all).
    """
    def head(texts: Any) -> list[str]:
        if max_chars is None:
            return list(texts)
        kept, n = [], 0
        for t in texts:
            kept.append(t[: max_chars - n])
            n += len(kept[-1])
            if n >= max_chars:
                break
        return kept

    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be >= 1 or None, got {max_chars}")
    for name, cap in (("max_train_blocks", max_train_blocks),
                      ("max_heldout_blocks", max_heldout_blocks)):
        if cap is not None and cap < 1:
            raise ValueError(f"{name} must be >= 1 or None, got {cap}")
    ckey = getattr(corpus, "key", "") or hash((corpus.train_texts, corpus.heldout_texts))
    key = (ckey, getattr(tokenizer, "name_or_path", ""), len(tokenizer), seq_len, max_chars)
    if key not in _BLOCKS:
        if len(_BLOCKS) >= 8:
            _BLOCKS.pop(next(iter(_BLOCKS)))
        _BLOCKS[key] = Blocks(chunk_texts(head(corpus.train_texts), tokenizer, seq_len),
                              chunk_texts(head(corpus.heldout_texts), tokenizer, seq_len))
    full = _BLOCKS[key]
    return Blocks(full.train[:max_train_blocks], full.heldout[:max_heldout_blocks])


__all__ = [
    "Blocks",
    "MlmEval",
    "chunk_texts",
    "corpus_blocks",
    "evaluate_mlm",
    "mask_batch",
    "masked_logits",
]
