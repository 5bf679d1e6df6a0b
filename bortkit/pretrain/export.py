"""Saving models for the next stage: atomic `export`, and `export_student` (the hand-off from
pretraining to fine-tuning).

`export` writes a `save_pretrained` folder (+ tokenizer) atomically: everything goes into a
fresh temporary folder next to the target, which is then renamed into place, so readers see the
old folder or the whole new one, never a half-written model. Pretraining (`bortkit.pretrain.
engine`) and fine-tuning (`bortkit.finetune.engine`) both export through it.

`export_student` exports a pretrained student for fine-tuning: a restricted-head student's
encoder as a plain HF `BertModel` folder (`<run>/model`: what `BertForSequenceClassification`
and `AutoModel` load; the K-way MLM head is not needed downstream) and the whole student with its
head and ``vocab.json`` (`<run>/mlm`); a full-vocabulary `BertForMaskedLM` as it is.

`keep_checkpoint` keeps one surrogate-trained candidate (a Pareto point's weights) in a folder
the user names, under a disk bound: written atomically, never replacing or deleting anything.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

from bortkit.pretrain.distill import output_vocab
from bortkit.records import save_json

MODEL_DIR = "model"
MLM_DIR = "mlm"
KEPT_NAME = "kept.json"  # what a kept checkpoint is: shape, θ, steps, seed, settings, error


def export_student(model: Any, tokenizer: Any | None, output_dir: str | os.PathLike[str]
                   ) -> tuple[str, str | None]:
    """Export a pretrained student for fine-tuning: (model_dir, mlm_dir).

    A restricted-head student (`bortkit.pretrain.init`) is exported twice: its encoder as a
    plain HF `BertModel` to ``<output_dir>/model`` (what `BertForSequenceClassification` /
    `AutoModel` load; the K-way MLM head is not needed downstream) and the whole model (head +
    ``vocab.json``) to ``<output_dir>/mlm``. A full-vocabulary `BertForMaskedLM` goes to
    ``model`` as it is (mlm_dir None).
    """
    from transformers import BertModel

    out = Path(output_dir)
    if output_vocab(model) is None:
        return str(export(model, tokenizer, out / MODEL_DIR)), None
    config = copy.deepcopy(model.config)
    config.architectures = ["BertModel"]
    for name in ("restricted_vocab_size", "restricted_vocab_key"):
        if hasattr(config, name):
            delattr(config, name)
    encoder = BertModel(config, add_pooling_layer=False)
    encoder.load_state_dict(model.bert.state_dict())
    mlm_dir = export(model, tokenizer, out / MLM_DIR)
    return str(export(encoder, tokenizer, out / MODEL_DIR)), str(mlm_dir)


def export(model: Any, tokenizer: Any | None, path: str | os.PathLike[str]) -> Path:
    """`save_pretrained` the model (+ tokenizer) into the folder `path`, atomically.

    Everything is written into a fresh temporary folder next to `path` and then renamed into
    place, so readers see the old folder or the whole new one, never a half-written model (an
    old folder is moved aside first and removed after: POSIX cannot rename over a non-empty
    folder). The folder reloads with the model's Auto class (`AutoModelForMaskedLM` for a
    pretrained student, `AutoModelForSequenceClassification` for a classifier).

    Returns:
        The folder, as an absolute path.
    """
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    old = None
    try:
        tmp.chmod(0o755)  # mkdtemp makes 0700; an exported model is shared like any folder
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def folder_bytes(path: str | os.PathLike[str]) -> int:
    """Total size in bytes of the files under `path` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # a concurrent writer renamed its temporary file
                pass
    return total


def keep_checkpoint(model: Any, tokenizer: Any | None, folder: str | os.PathLike[str],
                    name: str, *, max_mb: float, meta: Mapping[str, Any] | None = None
                    ) -> Path | None:
    """Keep `model` as the loadable HF folder ``<folder>/<name>``, within a disk bound.

    The folder holds what `save_pretrained` writes (``config.json``, the weights and, for a
    restricted-head student, ``vocab.json``), the tokenizer and `meta` as ``kept.json``. It is
    written into a temporary folder next to it and renamed into place, so a reader sees all of
    it or nothing. A restricted-head student loads back whole with
    `bortkit.pretrain.teacher_head.model_class().from_pretrained`, and its encoder with
    `transformers.AutoModel` / `BertForSequenceClassification` (they drop the K-way head).

    Args:
        model: the model to keep (any device).
        tokenizer: saved beside it (None: none).
        folder: the user's folder of kept checkpoints (created when missing).
        name: the checkpoint's sub-folder; when it exists already (the same evaluation, kept
            before) it is left untouched and returned.
        max_mb: bound on the whole of `folder`, in MB (10^6 bytes).
        meta: written as ``kept.json``.

    Returns:
        The checkpoint folder, or None when keeping it would take `folder` past `max_mb` (then
        nothing is written and nothing is deleted).
    """
    root = Path(folder).expanduser().resolve()
    target = root / name
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    budget = max_mb * 1e6
    used = folder_bytes(root)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    if used + weights > budget:  # the weights alone do not fit: do not even write them
        return None
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.tmp-"))
    try:
        tmp.chmod(0o755)  # mkdtemp makes 0700; a kept model is shared like any folder
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if meta is not None:
            save_json(tmp / KEPT_NAME, dict(meta))
        if used + folder_bytes(tmp) > budget:
            return None
        try:
            os.replace(tmp, target)
        except OSError:  # another process kept the same evaluation first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = ["KEPT_NAME", "MLM_DIR", "MODEL_DIR", "export", "export_student", "folder_bytes",
           "keep_checkpoint"]
