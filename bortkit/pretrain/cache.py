"""The teacher-output cache: the teacher's top-k predictions on fixed, seeded batches, on disk.

Every surrogate call used to spend ~80% of its time in the teacher's forward pass, identical for
every candidate. The cache computes it once: on a fixed, seeded stream of training sequences
and the first held-out sequences, masked with a fixed mask seed (BERT 80/10/10), it stores per
sequence the masked input ids, the attention mask, which positions are masked, the restricted
labels (the `Vocab` index of the original token; -100 where a position is not masked or its
token is outside the Vocab) and, at every masked position, the teacher's `top_k` restricted
logits (values float16, indices int16 when K < 32,768) — plus the Vocab, its unigram
distribution and the PCA of the teacher's embeddings (`bortkit.pretrain.init.EmbeddingPca`), so
that a surrogate call with ``init="pca"`` or ``"random"`` never loads the teacher at all.

Layout: ``cache_dir()/teacher_cache/<key>/`` holds ``meta.json`` (the `TeacherCache` record:
provenance, settings, and every array file's shape and dtype), ``vocab.json`` and one ``.npy``
file per array (memory-mappable). The key hashes the teacher's key (`TeacherConfig.key()` or a
fingerprint of the weights given), the corpus key, the tokenizer (class, size, vocabulary hash)
and every `CacheConfig` setting that changes the arrays. The teacher's key fixes its Vocab, so
the Vocab's key is recorded in meta.json and checked whenever the teacher is at hand rather than
hashed (a lookup then needs no teacher load). A cache is written into a temporary folder and
renamed into place (it appears whole or not at all). On load every file is checked against
meta.json (existence, header shape and dtype, byte size): a truncated or missing file is
reported in one log line and the cache is rebuilt. A folder given explicitly that was built for
another teacher, corpus, tokenizer or setting is a `ValueError` naming the file and the field.

The data order is a permutation of the training blocks seeded by `mask_seed` (a new one each
pass), so the stored stream is consumed front to back by every candidate: batch k of a surrogate
with |B| sequences is rows k·|B| … (k+1)·|B| − 1 (wrapping around after the last row).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bortkit.data.corpus import Corpus, build_corpus
from bortkit.pretrain import teacher as teacher_lib
from bortkit.pretrain import teacher_head
from bortkit.pretrain.cache_arrays import (
    SPLIT_ARRAYS,
    CacheSplit,
    check_npy,
    teacher_topk,
    write_folder,
)
from bortkit.pretrain.init import EmbeddingPca, embedding_pca
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.vocab import Vocab
from bortkit.records import (
    Record,
    check_choice,
    check_float,
    check_int,
    check_positive_int,
)
from bortkit.utils import cache_dir, resolve_device

logger = logging.getLogger(__name__)

CACHE_VERSION = "1"
META_NAME = "meta.json"
VOCAB_NAME = "vocab.json"
SPLITS = ("train", "heldout")
_PCA_ARRAYS = ("components", "word", "position", "token_type")
# CacheConfig fields that change the arrays (device and teacher do not: the teacher enters
# through its key).
_KEY_FIELDS = ("train_batches", "heldout_batches", "batch_size", "seq_len", "mask_seed",
               "mlm_probability", "top_k", "values_dtype")


@dataclass(frozen=True)
class CacheConfig(Record):
    """What the cache holds and where it is computed.

    Args:
        train_batches: training batches stored (train rows = train_batches × batch_size; the
            default covers a 1,000-step surrogate at |B| = 8, the FPTAS's 10N at N = 100).
        heldout_batches: held-out batches stored (the first held-out blocks, in order).
        batch_size: sequences per teacher forward pass and per masking draw.
        seq_len: tokens per sequence.
        mask_seed: seeds the data order and every mask.
        mlm_probability: fraction of tokens masked (BERT 80/10/10).
        top_k: teacher logits kept per masked position.
        values_dtype: "float16" (default: the logits' spread needs no more) or "float32".
        device: where the teacher runs ("auto": CUDA when present).
        teacher: the teacher loaded when none is given (`TeacherConfig.smoke()` for smoke runs).
    """

    train_batches: int = 1000
    heldout_batches: int = 32
    batch_size: int = 8
    seq_len: int = 64
    mask_seed: int = 0
    mlm_probability: float = 0.15
    top_k: int = 32
    values_dtype: str = "float16"
    device: str = "auto"
    teacher: teacher_lib.TeacherConfig = field(default_factory=teacher_lib.TeacherConfig)

    def __post_init__(self) -> None:
        for name in ("train_batches", "heldout_batches", "batch_size", "top_k"):
            check_positive_int(f"CacheConfig.{name}", getattr(self, name))
        check_int("CacheConfig.seq_len", self.seq_len, minimum=8)
        check_int("CacheConfig.mask_seed", self.mask_seed, minimum=0)
        check_float("CacheConfig.mlm_probability", self.mlm_probability, low=0.0, high=1.0,
                    low_open=True, high_open=True)
        check_choice("CacheConfig.values_dtype", self.values_dtype, ("float16", "float32"))
        if not isinstance(self.device, str):
            raise TypeError(f"CacheConfig.device must be a str, got {self.device!r}")
        if not isinstance(self.teacher, teacher_lib.TeacherConfig):
            raise TypeError(f"CacheConfig.teacher must be a TeacherConfig, got {self.teacher!r}")

    @classmethod
    def smoke(cls, **changes: Any) -> CacheConfig:
        """Tiny sizes for tests and smoke runs: 8 + 2 batches of 4 × 32 tokens, the smoke
        teacher; same code path."""
        smoke = {"train_batches": 8, "heldout_batches": 2, "batch_size": 4, "seq_len": 32,
                 "top_k": 8, "teacher": teacher_lib.TeacherConfig.smoke()}
        return cls(**{**smoke, **changes})

    def key_fields(self) -> dict[str, Any]:
        """The settings hashed into the cache key."""
        return {name: getattr(self, name) for name in _KEY_FIELDS}


@dataclass(frozen=True)
class ArrayFile(Record):
    """One stored array: file name (in the cache folder), shape and numpy dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class TeacherCache(Record):
    """A built cache (its ``meta.json``): provenance, settings, the array files.

    `open()` gives the arrays. `path` is the folder it was read from (not trusted from disk).
    """

    file_name = META_NAME

    key: str
    teacher_key: str
    corpus_key: str
    tokenizer: str
    vocab_key: str
    vocab_size: int
    config: CacheConfig
    files: tuple[ArrayFile, ...]
    seconds: float
    device: str
    pad_token_id: int = 0
    version: str = CACHE_VERSION
    path: str = ""

    def open(self) -> CachedOutputs:
        """The arrays, memory-mapped read-only."""
        folder = Path(self.path)
        arrays = {f.name: np.load(folder / f"{f.name}.npy", mmap_mode="r") for f in self.files}
        vocab = Vocab.load(folder / VOCAB_NAME)
        return CachedOutputs(self, vocab, arrays)


@dataclass(frozen=True, eq=False)
class CachedOutputs:
    """An opened cache: the meta record, the Vocab and the arrays (not a `Record`)."""

    meta: TeacherCache
    vocab: Vocab
    arrays: dict[str, np.ndarray]

    def split(self, name: str) -> CacheSplit:
        """The "train" or "heldout" rows (numpy memmaps)."""
        check_choice("split", name, SPLITS)
        a = self.arrays
        return CacheSplit(*(a[f"{name}.{x}"] for x in SPLIT_ARRAYS))

    def unigram(self) -> np.ndarray:
        """The Vocab's unigram distribution (K,), as stored."""
        return np.array(self.arrays["unigram"])

    @functools.cached_property
    def pca(self) -> EmbeddingPca:
        """The PCA of the teacher's embeddings (memmaps; one object per opened cache, so the
        per-H projections `bortkit.pretrain.init` derives from it are computed once)."""
        return EmbeddingPca(*(self.arrays[f"pca.{x}"] for x in _PCA_ARRAYS))


# ---------------------------------------------------------------------------------------------
# Keys and provenance.
def tokenizer_id(tokenizer: Any) -> str:
    """Class, size and a hash of the vocabulary: the same for every copy of one tokenizer."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    digest = hashlib.sha256(json.dumps(items).encode()).hexdigest()[:12]
    return f"{type(tokenizer).__name__}/{len(tokenizer)}/{digest}"


def model_fingerprint(model: Any) -> str:
    """A hash of a model's config and weights (the key of a teacher given as an object)."""
    h = hashlib.sha256(type(model).__name__.encode())
    cfg = getattr(model, "config", None)
    if cfg is not None:
        h.update(cfg.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"weights:{h.hexdigest()[:16]}"


def cache_key(config: CacheConfig, *, teacher_key: str, corpus_key: str, tokenizer: str) -> str:
    """The folder name of a cache: a hash of its provenance and key settings."""
    blob = json.dumps({"version": CACHE_VERSION, "teacher": teacher_key, "corpus": corpus_key,
                       "tokenizer": tokenizer, **config.key_fields()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _problem(folder: Path) -> str | None:
    """Why the cache in `folder` cannot be used as it is (None: it can)."""
    meta = folder / META_NAME
    if not meta.is_file():
        return f"{meta} is missing"
    try:
        cache = TeacherCache.load(meta)
    except (ValueError, OSError) as exc:
        return str(exc)
    if not (folder / VOCAB_NAME).is_file():
        return f"{folder / VOCAB_NAME} is missing"
    for f in cache.files:
        why = check_npy(folder / f"{f.name}.npy", f.shape, f.dtype)
        if why is not None:
            return why
    return None


def _check_provenance(folder: Path, cache: TeacherCache, want: dict[str, Any]) -> None:
    """A ValueError naming the file and the first field that differs from `want`."""
    have = {"teacher_key": cache.teacher_key, "corpus_key": cache.corpus_key,
            "tokenizer": cache.tokenizer, **cache.config.key_fields()}
    for name, value in want.items():
        if have.get(name) != value:
            raise ValueError(f"{folder / META_NAME}: this teacher cache was built for "
                             f"{name}={have.get(name)!r}, not {value!r} (another teacher, corpus, "
                             f"tokenizer or setting); pass another folder or none")


# ---------------------------------------------------------------------------------------------
# Building.
def _build(folder: Path, cfg: CacheConfig, *, model: Any, tokenizer: Any, corpus: Corpus,
           teacher_key: str, key: str) -> TeacherCache:
    import torch

    start = time.perf_counter()
    device = resolve_device(cfg.device)
    vocab = teacher_head.teacher_vocab(model)
    if vocab.full_size != len(tokenizer):
        raise ValueError(f"the teacher's Vocab indexes {vocab.full_size} tokens, its tokenizer "
                         f"has {len(tokenizer)}")
    if cfg.top_k > vocab.size:
        raise ValueError(f"CacheConfig.top_k={cfg.top_k} exceeds the teacher's K={vocab.size}")
    blocks = corpus_blocks(corpus, tokenizer, seq_len=cfg.seq_len)
    lookup = torch.as_tensor(vocab.lookup())
    was_training, old_device = model.training, next(model.parameters()).device
    model.eval().to(device)
    arrays: dict[str, np.ndarray] = {}
    try:
        for i, (name, src, rows) in enumerate((
                ("train", blocks.train, cfg.train_batches * cfg.batch_size),
                ("heldout", blocks.heldout, cfg.heldout_batches * cfg.batch_size))):
            arrays.update(teacher_topk(
                name, src, model=model, tokenizer=tokenizer, lookup=lookup, device=device,
                n_rows=rows, seed=cfg.mask_seed * len(SPLITS) + i, batch_size=cfg.batch_size,
                mlm_probability=cfg.mlm_probability, top_k=cfg.top_k,
                values_dtype=cfg.values_dtype))
    finally:
        model.train(was_training).to(old_device)
    pca = embedding_pca(model)
    arrays.update({f"pca.{x}": getattr(pca, x) for x in _PCA_ARRAYS})
    arrays["unigram"] = vocab.unigram()
    meta = TeacherCache(
        key=key, teacher_key=teacher_key, corpus_key=getattr(corpus, "key", ""),
        tokenizer=tokenizer_id(tokenizer), vocab_key=vocab.key, vocab_size=vocab.size,
        config=cfg, files=tuple(ArrayFile(n, tuple(int(s) for s in a.shape), a.dtype.str)
                                for n, a in sorted(arrays.items())),
        seconds=time.perf_counter() - start, device=device,
        pad_token_id=int(tokenizer.pad_token_id or 0))
    write_folder(folder, arrays, {VOCAB_NAME: json.dumps(vocab.to_dict())},
                 last=(META_NAME, json.dumps(meta.to_dict(), indent=2)),
                 usable=lambda f: _problem(f) is None)
    logger.info("teacher cache %s: %d train + %d held-out sequences, %d masked positions, "
                "built in %.1fs on %s", folder, arrays["train.input_ids"].shape[0],
                arrays["heldout.input_ids"].shape[0], arrays["train.topk_values"].shape[0],
                meta.seconds, device)
    return meta.replace(path=str(folder))


def teacher_cache(
    config: CacheConfig | None = None,
    *,
    teacher: Any | None = None,
    tokenizer: Any | None = None,
    corpus: Corpus | None = None,
    teacher_key: str | None = None,
    path: str | os.PathLike[str] | None = None,
    on_build: Callable[[], None] | None = None,
) -> TeacherCache:
    """The cache for these settings: loaded when built before, built (once) otherwise.

    Args:
        config: the cache's settings (`CacheConfig()` when None).
        teacher: the teacher model (a restricted-head BERT, see `bortkit.pretrain.teacher`);
            default: `load_teacher(config.teacher)`, loaded only when the cache must be built.
        tokenizer: the teacher's tokenizer (default: the shipped MiniLM's).
        corpus: the corpus (default: `build_corpus()`).
        teacher_key: the teacher's identity in the key (default: `config.teacher.key()`, or a
            fingerprint of `teacher`'s weights when a teacher is given).
        path: use this folder instead of ``cache_dir()/teacher_cache/<key>``; a folder built
            for other settings is an error, not overwritten.
        on_build: called once before a build (tests count builds with it).

    Returns:
        The `TeacherCache` record; `.open()` gives the arrays.

    Raises:
        ValueError: `path` holds a cache of another teacher, corpus, tokenizer or setting; the
            teacher's Vocab differs from the one a cache records.
    """
    config = config if config is not None else CacheConfig()
    if not isinstance(config, CacheConfig):
        raise TypeError(f"config must be a CacheConfig, got {type(config).__name__}")
    tokenizer = tokenizer if tokenizer is not None else teacher_lib.load_tokenizer()
    corpus = corpus if corpus is not None else build_corpus()
    if teacher_key is None:
        teacher_key = (model_fingerprint(teacher) if teacher is not None
                       else config.teacher.key())
    tok = tokenizer_id(tokenizer)
    key = cache_key(config, teacher_key=teacher_key, corpus_key=corpus.key, tokenizer=tok)
    folder = Path(path) if path is not None else cache_dir() / "teacher_cache" / key
    want = {"teacher_key": teacher_key, "corpus_key": corpus.key, "tokenizer": tok,
            **config.key_fields()}
    why = _problem(folder)
    if why is None:
        cache = TeacherCache.load(folder).replace(path=str(folder))
        _check_provenance(folder, cache, want)
        if teacher is not None and teacher_head.teacher_vocab(teacher).key != cache.vocab_key:
            raise ValueError(f"{folder / META_NAME}: built with vocab_key={cache.vocab_key!r}, "
                             f"the teacher's Vocab differs")
        return cache
    what = (f"{config.train_batches * config.batch_size:,} + "
            f"{config.heldout_batches * config.batch_size:,} sequences of {config.seq_len} "
            f"tokens, the teacher's top-{config.top_k} logits at masked positions, computed once "
            f"for every surrogate call; cached at {folder}")
    if (folder / META_NAME).is_file():
        try:  # an explicit folder of another teacher is an error even when damaged
            _check_provenance(folder, TeacherCache.load(folder / META_NAME), want)
        except (ValueError, OSError) as exc:
            if "was built for" in str(exc):
                raise
        logger.warning("teacher cache %s is unusable (%s): rebuilding it (%s)", folder, why,
                       what)
    elif folder.exists() and any(folder.iterdir()):
        if path is not None:
            raise ValueError(f"{folder} is not empty and holds no {META_NAME}: not a teacher "
                             f"cache; pass an empty or new folder")
        logger.warning("teacher cache %s is unusable (%s): rebuilding it (%s)", folder, why,
                       what)
    else:
        logger.warning("building the teacher-output cache: %s", what)
    if on_build is not None:
        on_build()
    if teacher is None:
        teacher, _ = teacher_lib.load_teacher(config.teacher)
    return _build(folder, config, model=teacher, tokenizer=tokenizer, corpus=corpus,
                  teacher_key=teacher_key, key=key)


__all__ = [
    "CACHE_VERSION",
    "META_NAME",
    "SPLITS",
    "ArrayFile",
    "CacheConfig",
    "CachedOutputs",
    "TeacherCache",
    "cache_key",
    "model_fingerprint",
    "teacher_cache",
    "tokenizer_id",
]
