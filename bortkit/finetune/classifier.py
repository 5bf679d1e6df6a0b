"""Sequence classifiers with Bort's head: locate, load from a checkpoint or a shape, predict.

`load_classifier` builds an HF `BertForSequenceClassification` from a checkpoint folder (MLM,
encoder or classifier) or an `ArchSpec` (random initialisation), sets its pooling
(`set_pooling`) and adds Bort's extra head dropout (`add_head_dropout`); `resolve_checkpoint`
and `arch_of` find a saved model folder and read its shape; `load_finetuned` reloads an exported
classifier with its pooling; `predict` labels texts with one (Agora's labeller). Exports go
through `bortkit.pretrain.export.export` (atomic: temporary folder, then rename), so every saved
model folder reloads with `AutoModelForSequenceClassification` (exactly so for first-token
pooling; a mean-pooled one needs `load_finetuned`, see below).

Pooling (`POOLINGS`; `FinetuneConfig.pooling`): "first" is Bort's head, the pooler's
dense+tanh on the first token's last hidden state. "mean" (project choice, the default: measured
in docs/results.md, a small student's first token carries little sentence signal early in
fine-tuning, the mean over the attended tokens does from the first step) feeds the pooler the
mean of the last hidden states over the attention mask instead: a forward pre-hook on the
pooler replaces the first position by that mean (the attention mask is captured by a pre-hook
on the encoder), so parameter names, shapes and the export stay HF's. The choice is written to
``config.json`` as ``pooling``; `load_finetuned` and `predict` re-attach it (plain
`AutoModelForSequenceClassification` would silently use the first token).

Paper tie (alexa/bort `finetune_bort.py`, see reference/bort-papers.md §5.3): the head is
dropout → dense(H, tanh) on the first token → dropout → linear. HF's classifier lacks the first
dropout; `add_head_dropout` adds it as a forward pre-hook on the pooler, so parameter names stay
HF's (identical outputs in eval mode). Project choice: checkpoints without pooler weights get a
freshly initialised pooler.

torch, transformers and datasets are imported lazily inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Sequence, Union

from bortkit.arch import ArchSpec
from bortkit.finetune.records import POOLINGS, Predictions

logger = logging.getLogger(__name__)

ModelSource = Union[str, os.PathLike, ArchSpec]


# ---------------------------------------------------------------------------------------------
# Checkpoint folders.
def resolve_checkpoint(path: str | os.PathLike[str] | None) -> Path | None:
    """A model folder: `path` itself or ``path/model`` (notebook 03's export), or None when
    neither holds a config.json (so notebooks can fall back when run alone)."""
    if path is None or not str(path).strip():
        return None
    for candidate in (Path(path), Path(path) / "model"):
        if (candidate / "config.json").is_file():
            return candidate
    return None


def arch_of(model_dir: str | os.PathLike[str]) -> ArchSpec:
    """The `ArchSpec` of a saved BERT checkpoint (for a random-init twin of the same shape)."""
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    return ArchSpec(**{k: int(config[k]) for k in (
        "num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size",
        "vocab_size", "max_position_embeddings", "type_vocab_size")})


# ---------------------------------------------------------------------------------------------
# Model.
def add_head_dropout(model: Any, p: float | None = None) -> Any:
    """Add Bort's dropout *before* the dense+tanh of the head (HF's pooler), in training only.

    A forward pre-hook on `model.bert.pooler` (not saved with the model; parameter names are
    unchanged). `p` defaults to the config's classifier dropout (else hidden dropout, 0.1).
    """
    import torch.nn.functional as F

    cfg = model.config
    p = p if p is not None else (cfg.classifier_dropout if cfg.classifier_dropout is not None
                                 else cfg.hidden_dropout_prob)
    pooler = model.bert.pooler

    def hook(module: Any, args: tuple) -> tuple:
        # (batch, seq, hidden) -> same; the pooler then takes the first token.
        return (F.dropout(args[0], p=p, training=module.training), *args[1:])

    pooler.register_forward_pre_hook(hook)
    return model


def set_pooling(model: Any, pooling: str) -> Any:
    """Make `model` (a `BertForSequenceClassification`) pool by `pooling` ("first" or "mean").

    "first" leaves HF's pooler as it is; "mean" registers the hooks described in the module
    doc (once; calling it again is a no-op). The choice is recorded as ``config.pooling``.

    Raises:
        ValueError: an unknown pooling, or "first" on a model already mean-pooled.
    """
    import torch

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    done = getattr(model, "_bortkit_pooling", "first")
    if pooling == done:
        model.config.pooling = pooling
        return model
    if done != "first":
        raise ValueError(f"the model already pools by {done!r}; load a fresh one for {pooling!r}")
    state: dict[str, Any] = {}

    def capture(module: Any, args: tuple, kwargs: dict) -> None:
        mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
        state["mask"] = mask

    def mean_first(module: Any, args: tuple) -> tuple:
        hidden = args[0]  # (batch, seq, H)
        mask = state.pop("mask", None)
        if mask is None:
            mean = hidden.mean(dim=1)
        else:
            w = mask[:, : hidden.shape[1]].to(hidden.dtype).unsqueeze(-1)  # (batch, seq, 1)
            mean = (hidden * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)
        return (torch.cat([mean.unsqueeze(1), hidden[:, 1:]], dim=1), *args[1:])

    model.bert.register_forward_pre_hook(capture, with_kwargs=True)
    # prepend: the mean is taken before Bort's head dropout (another pooler pre-hook) applies
    model.bert.pooler.register_forward_pre_hook(mean_first, prepend=True)
    model._bortkit_pooling = pooling
    model.config.pooling = pooling
    return model


def load_classifier(model_source: ModelSource, *, label_names: Sequence[str],
                    pooling: str = "mean") -> Any:
    """A `BertForSequenceClassification` for `len(label_names)` classes, with Bort's head.

    Args:
        model_source: a checkpoint folder (MLM, encoder or classifier; loaded with
            `from_pretrained`) or an `ArchSpec` (random initialisation).
        label_names: class names; sets `num_labels`, `id2label` and `label2id`.
        pooling: "mean" (default) or "first" (Bort's), see `set_pooling`.

    Raises:
        ValueError: the checkpoint is a classifier for a different number of labels.
        FileNotFoundError: the folder has no config.json.
    """
    from transformers import AutoConfig, BertForSequenceClassification

    n = len(label_names)
    id2label = {i: str(name) for i, name in enumerate(label_names)}
    label2id = {name: i for i, name in id2label.items()}
    if isinstance(model_source, ArchSpec):
        config = model_source.to_bert_config(num_labels=n, id2label=id2label, label2id=label2id)
        model = BertForSequenceClassification(config)
    else:
        path = Path(model_source)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model_source {str(path)!r} has no config.json")
        config = AutoConfig.from_pretrained(path)
        is_classifier = any("SequenceClassification" in a for a in config.architectures or ())
        if is_classifier and config.num_labels != n:
            raise ValueError(f"model_source {str(path)!r} is a classifier for "
                             f"num_labels={config.num_labels}, but the task has {n} labels")
        from transformers.utils import logging as hf_logging

        # HF's load report (a WARNING table) is expected here: MLM heads are dropped, the
        # classifier (and, for students from notebook 03, the pooler) are fresh. Log it briefly.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            loaded: Any = BertForSequenceClassification.from_pretrained(
                path, num_labels=n, id2label=id2label, label2id=label2id,
                output_loading_info=True)
        finally:
            hf_logging.set_verbosity(verbosity)
        model, info = loaded
        logger.info("loaded %s; freshly initialised: %s", path, sorted(info["missing_keys"]))
    model.config.architectures = ["BertForSequenceClassification"]
    return add_head_dropout(set_pooling(model, pooling))


def load_finetuned(model_dir: str | os.PathLike[str]) -> Any:
    """An exported classifier folder, with the pooling its ``config.json`` records.

    Use it instead of plain `AutoModelForSequenceClassification.from_pretrained` for models
    fine-tuned with ``pooling="mean"`` (the default). No head dropout hook: for inference.
    """
    from transformers import AutoModelForSequenceClassification

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"classifier folder {str(path)!r} has no config.json")
    model = AutoModelForSequenceClassification.from_pretrained(path)
    return set_pooling(model, getattr(model.config, "pooling", None) or "first")


@contextlib.contextmanager
def quiet_progress(progress: bool) -> Iterator[None]:
    """Hide datasets' and transformers' own progress bars (map, weight loading, shard writing)
    while `progress` is False; restores the previous state afterwards."""
    import datasets.utils as ds_utils
    from transformers.utils import logging as hf_logging

    if progress:
        yield
        return
    ds_was_on = not ds_utils.are_progress_bars_disabled()
    hf_was_on = hf_logging.is_progress_bar_enabled()
    ds_utils.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if ds_was_on:
            ds_utils.enable_progress_bars()
        if hf_was_on:
            hf_logging.enable_progress_bar()


# ---------------------------------------------------------------------------------------------
# Prediction.
def predict(
    model_or_dir: Any,
    texts: Sequence[str],
    *,
    text_pairs: Sequence[str] | None = None,
    batch_size: int = 64,
    max_length: int = 128,
    tokenizer: Any = None,
    progress: bool = False,
) -> Predictions:
    """Class probabilities and argmax labels for `texts` (e.g. Agora's labeller on new points).

    Args:
        model_or_dir: an exported folder (loaded with `load_finetuned`) or a loaded model.
        texts: the inputs; `text_pairs` the optional second segments.
        batch_size: inference batch size.
        max_length: truncation length in tokens.
        tokenizer: required for a model object; for a folder, its saved tokenizer is used.
        progress: show a bar over batches (and the weight-loading bar).
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise ValueError(f"text_pairs has {len(text_pairs)} items, texts has {len(texts)}")
    if isinstance(model_or_dir, (str, os.PathLike)):
        with quiet_progress(progress):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_or_dir)
            model = load_finetuned(model_or_dir)
    else:
        if tokenizer is None:
            raise ValueError("tokenizer is required when model_or_dir is a model object")
        model = model_or_dir
    was_training = model.training
    model.eval()
    labels: list[int] = []
    probs: list[tuple[float, ...]] = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(texts), batch_size), desc="predict", disable=not progress):
            pair = None if text_pairs is None else list(text_pairs[i:i + batch_size])
            enc = tokenizer(list(texts[i:i + batch_size]), pair, truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
            p = model(**enc).logits.float().softmax(-1)  # (batch, n_labels)
            labels.extend(int(v) for v in p.argmax(-1))
            probs.extend(tuple(float(v) for v in row) for row in p)
    model.train(was_training)
    return Predictions(tuple(labels), tuple(probs))


__all__ = [
    "ModelSource",
    "add_head_dropout",
    "arch_of",
    "load_classifier",
    "load_finetuned",
    "predict",
    "quiet_progress",
    "resolve_checkpoint",
    "set_pooling",
]
