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
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bortkit.pretrain.distill import output_vocab

MODEL_DIR = "model"
MLM_DIR = "mlm"


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


__all__ = ["MLM_DIR", "MODEL_DIR", "export", "export_student"]
