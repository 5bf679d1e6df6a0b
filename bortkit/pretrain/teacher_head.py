"""The teacher's model: a BERT encoder with an UNTIED MLM head over the restricted `Vocab`.

`RestrictedBertForMaskedLM` is a real Hugging Face model (a `BertPreTrainedModel`): ``bert`` is a
`BertModel` (no pooler) with the full 30,522-token input vocabulary, and ``cls`` predicts only the
K tokens of a `bortkit.pretrain.vocab.Vocab` (K = 8,197 by default: the top-8,192 corpus tokens
plus the specials): BERT's transform (dense H→H, GELU, LayerNorm) and a decoder Linear(H, K) with
bias. `save_pretrained` writes ``config.json`` + ``model.safetensors`` + ``vocab.json``;
`from_pretrained` reads them back from a folder without touching the network.

Why untied and restricted: the shipped MiniLM has no MLM head, and a head tied to the 30,522-row
input embeddings made the V×H projection the dominant cost of every CPU step (measured: 25%
held-out accuracy after 300 steps). Restricting the targets to the corpus's frequent tokens keeps
93.9% of train tokens and makes the decoder 3.7× smaller; untying lets it move freely while the
input embeddings stay the encoder's.

Accuracy is measured over the RESTRICTED targets: a masked position whose true token is outside
the Vocab gets label -100 and is not scored. `TeacherEval.coverage` says what fraction of masked
positions were scored, so nobody mistakes it for full-vocabulary accuracy (full-vocabulary accuracy
is at least ``accuracy * coverage``: a token outside the Vocab is never predicted).

torch and transformers stay lazy (the CLI imports this module at start): the model class is built
on first use by `model_class()`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from bortkit.pretrain.mlm import mask_batch
from bortkit.pretrain.vocab import Vocab
from bortkit.records import Record

if TYPE_CHECKING:  # pragma: no cover - torch stays lazy
    import torch

VOCAB_NAME = "vocab.json"
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TeacherEval(Record):
    """Held-out masked-token metrics over the restricted vocabulary, at one point of a build.

    Attributes:
        accuracy: top-1 accuracy over masked positions whose true token is in the Vocab.
        loss: mean cross-entropy (restricted softmax) over the same positions.
        n_tokens: masked positions scored (true token in the Vocab).
        coverage: scored / all masked positions (the rest are outside the Vocab).
        step: optimiser steps done when measured.
        seconds: wall seconds of the build when measured (summed over resumed sessions).
    """

    accuracy: float
    loss: float
    n_tokens: int
    coverage: float
    step: int = 0
    seconds: float = 0.0


@functools.cache
def model_class() -> type:
    """The `RestrictedBertForMaskedLM` class (built on first call: transformers is heavy)."""
    import torch
    from transformers import BertModel, BertPreTrainedModel
    from transformers.models.bert.modeling_bert import BertPredictionHeadTransform

    class RestrictedMLMHead(torch.nn.Module):
        """BERT's MLM transform and an untied decoder over K restricted tokens."""

        def __init__(self, config: Any) -> None:
            super().__init__()
            self.transform = BertPredictionHeadTransform(config)
            self.decoder = torch.nn.Linear(config.hidden_size, config.restricted_vocab_size)

        def forward(self, hidden: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.transform(hidden))

    class RestrictedBertForMaskedLM(BertPreTrainedModel):
        """`BertModel` + `RestrictedMLMHead`; ``vocab`` (a `Vocab`) names the K outputs."""

        def __init__(self, config: Any) -> None:
            if not getattr(config, "restricted_vocab_size", 0):
                raise ValueError("config.restricted_vocab_size is missing: build the teacher "
                                 "with bortkit.pretrain.teacher_head.from_encoder")
            config.tie_word_embeddings = False  # the head is untied by design
            super().__init__(config)
            self.bert = BertModel(config, add_pooling_layer=False)
            self.cls = RestrictedMLMHead(config)
            self.vocab: Vocab | None = None
            self.post_init()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                    **kwargs: Any) -> torch.Tensor:
            """Restricted logits at every position, (batch, seq, K); see `restricted_logits`."""
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               **kwargs).last_hidden_state
            return self.cls(hidden)

        def save_pretrained(self, save_directory: str | os.PathLike[str],
                            **kwargs: Any) -> None:
            super().save_pretrained(save_directory, **kwargs)
            teacher_vocab(self).save(Path(save_directory) / VOCAB_NAME)

        @classmethod
        def from_pretrained(cls, path: str | os.PathLike[str], *args: Any,
                            **kwargs: Any) -> Any:
            model = super().from_pretrained(path, *args, **kwargs)
            vocab = Vocab.load(Path(path) / VOCAB_NAME)
            if vocab.size != model.config.restricted_vocab_size:
                raise ValueError(f"{path}: {VOCAB_NAME} has {vocab.size} tokens but the head "
                                 f"has {model.config.restricted_vocab_size} outputs")
            model.vocab = vocab
            return model

    RestrictedBertForMaskedLM.__module__ = __name__
    return RestrictedBertForMaskedLM


def from_encoder(encoder: Any, vocab: Vocab) -> Any:
    """A `RestrictedBertForMaskedLM` around `encoder`'s weights, head warm-started.

    The decoder rows start as the encoder's word-embedding rows of ``vocab.ids`` (the tied head's
    starting point, restricted), the decoder bias as the centred log unigram (so the untrained
    head predicts the corpus frequencies), and the transform's dense layer as the identity (so
    the start compares the last hidden state with the input embeddings, not a random projection).

    Args:
        encoder: a `BertModel` (or anything with ``.config`` and the BERT state-dict names).
        vocab: the restricted output vocabulary; ``vocab.full_size`` must be the encoder's.
    """
    import torch

    config = copy.deepcopy(encoder.config)
    if vocab.full_size != config.vocab_size:
        raise ValueError(f"vocab.full_size={vocab.full_size} but the encoder has "
                         f"vocab_size={config.vocab_size}")
    config.restricted_vocab_size = vocab.size
    config.restricted_vocab_key = vocab.key
    config.architectures = ["RestrictedBertForMaskedLM"]
    model = model_class()(config)
    missing, unexpected = model.bert.load_state_dict(encoder.state_dict(), strict=False)
    if missing:
        raise ValueError(f"encoder lacks BERT weights: {missing[:5]}")
    model.vocab = vocab
    head = model.cls
    with torch.no_grad():
        rows = torch.as_tensor(vocab.ids, dtype=torch.long)
        head.decoder.weight.copy_(model.bert.embeddings.word_embeddings.weight[rows])
        log_unigram = torch.as_tensor(vocab.unigram(), dtype=torch.float32).log()
        head.decoder.bias.copy_(log_unigram - log_unigram.mean())
        head.transform.dense.weight.copy_(torch.eye(config.hidden_size))
        head.transform.dense.bias.zero_()
    return model


def teacher_vocab(model: Any) -> Vocab:
    """The restricted `Vocab` of a teacher: index k of its logits is full token ``ids[k]``."""
    vocab = getattr(model, "vocab", None)
    if not isinstance(vocab, Vocab):
        raise TypeError(f"{type(model).__name__} carries no restricted Vocab; load it with "
                        f"bortkit.pretrain.teacher.load_teacher")
    return vocab


def _lookup(model: Any, device: Any) -> torch.Tensor:
    """Full id → restricted index (-100 when not kept) on `device`, cached on the model."""
    import torch

    cached = getattr(model, "_restricted_lookup", None)
    if cached is None or cached.device != torch.device(device):
        table = torch.as_tensor(teacher_vocab(model).lookup(), dtype=torch.long)
        cached = torch.where(table < 0, torch.full_like(table, -100), table).to(device)
        model._restricted_lookup = cached
    return cached


def restricted_labels(model: Any, labels: torch.Tensor) -> torch.Tensor:
    """Map full-vocabulary MLM labels to restricted indices; outside the Vocab (or -100) → -100."""
    table = _lookup(model, labels.device)
    return table[labels.clamp(min=0)].masked_fill(labels < 0, -100)


def restricted_logits(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                      positions: torch.Tensor) -> torch.Tensor:
    """The teacher's logits over its K restricted tokens at the masked positions only.

    Args:
        model: a `RestrictedBertForMaskedLM`.
        input_ids: (batch, seq) masked inputs (full-vocabulary ids).
        attention_mask: (batch, seq) or None.
        positions: (batch, seq) bool, True where a prediction is wanted.

    Returns:
        (n_masked, K) logits, rows in the row-major order of `positions`.
    """
    hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return model.cls(hidden[positions])


def resolve_precision(precision: str, device: str) -> str:
    """"auto" → "bf16" where the hardware does bf16 matmuls natively, else "fp32".

    bf16 autocast is ~2× faster per step on an AVX512-BF16 CPU (measured, 2 cores) and slower
    where bf16 is emulated, so "auto" asks the hardware.
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bf16" if native else "fp32"


@contextlib.contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """bf16 autocast on `device` when `precision` is "bf16" (master weights stay fp32)."""
    import torch

    kind = "cuda" if device.startswith("cuda") else "cpu"
    with torch.autocast(kind, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield


def evaluate_teacher(model: Any, blocks: torch.Tensor, tokenizer: Any, *, batch_size: int = 32,
                     seed: int = 0, mlm_probability: float = 0.15, precision: str = "fp32",
                     step: int = 0, seconds: float = 0.0) -> TeacherEval:
    """Restricted masked-token accuracy and cross-entropy on held-out `blocks`.

    The masking is drawn from a generator seeded with `seed` (the same positions for every
    model); positions whose true token is outside the Vocab are not scored (see the module doc).
    """
    import torch
    import torch.nn.functional as F

    device = str(next(model.parameters()).device)
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    correct, scored, masked, loss_sum = 0, 0, 0, 0.0
    with torch.inference_mode():
        for start in range(0, len(blocks), batch_size):
            inputs, labels = mask_batch(blocks[start: start + batch_size], tokenizer,
                                        mlm_probability=mlm_probability, generator=gen)
            inputs, labels = inputs.to(device), labels.to(device)
            positions = labels != -100
            gold = restricted_labels(model, labels[positions])
            keep = gold != -100
            masked += int(positions.sum())
            with autocast(device, precision):
                logits = restricted_logits(model, inputs, None, positions).float()
            logits, gold = logits[keep], gold[keep]
            if gold.numel():
                loss_sum += float(F.cross_entropy(logits, gold, reduction="sum"))
                correct += int((logits.argmax(-1) == gold).sum())
                scored += int(gold.numel())
    model.train(was_training)
    if scored == 0:
        raise ValueError("evaluate_teacher: no masked token is in the Vocab; give more text")
    loss = loss_sum / scored
    return TeacherEval(accuracy=correct / scored, loss=loss if math.isfinite(loss) else math.nan,
                       n_tokens=scored, coverage=scored / masked, step=step, seconds=seconds)


__all__ = [
    "PRECISIONS",
    "VOCAB_NAME",
    "TeacherEval",
    "autocast",
    "evaluate_teacher",
    "from_encoder",
    "model_class",
    "resolve_precision",
    "restricted_labels",
    "restricted_logits",
    "teacher_vocab",
]
