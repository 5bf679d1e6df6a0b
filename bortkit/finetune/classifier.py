"""Sequence classifiers with Bort's head: load from a checkpoint or a shape, export, locate.

`load_classifier` builds an HF `BertForSequenceClassification` from a checkpoint folder (MLM,
encoder or classifier) or an `ArchSpec` (random initialisation) and adds Bort's extra head
dropout (`add_head_dropout`); `export` saves model and tokenizer so the folder reloads with
`AutoModelForSequenceClassification`; `resolve_checkpoint` and `arch_of` find a saved model
folder and read its shape.

Paper tie (alexa/bort `finetune_bort.py`, see reference/bort-papers.md §5.3): the head is
dropout → dense(H, tanh) on the first token → dropout → linear. HF's classifier lacks the first
dropout; `add_head_dropout` adds it as a forward pre-hook on the pooler, so parameter names stay
HF's (identical outputs in eval mode). Project choice: checkpoints without pooler weights get a
freshly initialised pooler.

torch and transformers are imported lazily inside the functions.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence, Union

from bortkit.arch import ArchSpec

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


def load_classifier(model_source: ModelSource, *, label_names: Sequence[str]) -> Any:
    """A `BertForSequenceClassification` for `len(label_names)` classes, with Bort's head.

    Args:
        model_source: a checkpoint folder (MLM, encoder or classifier; loaded with
            `from_pretrained`) or an `ArchSpec` (random initialisation).
        label_names: class names; sets `num_labels`, `id2label` and `label2id`.

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
    return add_head_dropout(model)


def export(model: Any, tokenizer: Any, output_dir: str | os.PathLike[str]) -> Path:
    """`save_pretrained` the model and tokenizer into `output_dir`; returns the folder.

    The folder reloads with `AutoModelForSequenceClassification.from_pretrained` (the Bort
    head's extra dropout is a training-time hook and is not needed at inference).
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


__all__ = [
    "ModelSource",
    "add_head_dropout",
    "arch_of",
    "export",
    "load_classifier",
    "resolve_checkpoint",
]
