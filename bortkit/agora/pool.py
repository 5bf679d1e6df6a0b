"""The pool sampler's unlabelled sentences: IMDB, Wikipedia and Lee news, never evaluation text.

`build_pool(PoolConfig(...))` cuts documents into sentences and keeps a seeded sample of them:

* IMDB: sentences of the reviews in the *train* split of ``load_task("imdb", seed=split_seed)``
  (its validation/test reviews are never read);
* "wiki-lee": sentences of the pretraining corpus (`bortkit.data.corpus.build_corpus`: the
  Wikipedia excerpt and the Lee news articles).

Disjointness (project choice, tested): every validation and test text of every task in
`exclude_tasks` (default: every builtin task) at the split seed Agora uses is cut into sentences
too, and a pool sentence whose *key* (its lower-cased alphanumeric words, so "Great film!" and
"great film ." agree) equals the key of an evaluation sentence or of a whole evaluation text is
dropped. `Pool.n_excluded` says how many were. Pools are cached as JSON under
``cache_dir()/pool`` keyed by the settings; `pool_embeddings` caches their MiniLM embeddings
beside them (``.npy``), so the pool is embedded once per machine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from bortkit.data.corpus import build_corpus
from bortkit.data.tasks import TASKS, load_task
from bortkit.embed import SentenceEmbedder
from bortkit.records import Record, check_choice, check_int, check_positive_int
from bortkit.utils import cache_dir

logger = logging.getLogger(__name__)

POOL_VERSION = "1"  # bump when splitting or filtering changes (invalidates cached pools)
POOL_SOURCES = ("imdb", "wiki-lee")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


def sentence_key(text: str) -> str:
    """The identity of a sentence for disjointness: its lower-cased alphanumeric words."""
    return " ".join(_WORD.findall(text.lower()))


def split_sentences(text: str) -> list[str]:
    """Sentences of a document: split after . ! ? and at line breaks; whitespace normalised."""
    return [" ".join(s.split()) for s in _SENTENCE_END.split(text) if s and s.strip()]


@dataclass(frozen=True)
class PoolConfig(Record):
    """Which sentences the pool holds.

    Args:
        size: sentences kept (a seeded sample of all that qualify; fewer if fewer qualify).
        sources: any of "imdb" (IMDB train-split reviews) and "wiki-lee" (the corpus).
        min_words, max_words: sentence length bounds in whitespace words (rt sentences are
            ~20 words; very short fragments and run-ons make poor neighbours).
        exclude_tasks: tasks whose validation and test texts the pool must never contain.
        split_seed: the seed of those tasks' splits (`bortkit.agora.experiment.low_data_split`
            always splits with seed 0) and of the IMDB train split read.
        seed: the sample drawn.
    """

    size: int = 20_000
    sources: tuple[str, ...] = POOL_SOURCES
    min_words: int = 5
    max_words: int = 40
    exclude_tasks: tuple[str, ...] = TASKS
    split_seed: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int("PoolConfig.size", self.size)
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "exclude_tasks", tuple(self.exclude_tasks))
        if not self.sources:
            raise ValueError("PoolConfig.sources must name at least one source")
        for source in self.sources:
            check_choice("PoolConfig.sources", source, POOL_SOURCES)
        for task in self.exclude_tasks:
            check_choice("PoolConfig.exclude_tasks", task, TASKS)
        check_positive_int("PoolConfig.min_words", self.min_words)
        check_int("PoolConfig.max_words", self.max_words, minimum=self.min_words)
        check_int("PoolConfig.split_seed", self.split_seed, minimum=0)
        check_int("PoolConfig.seed", self.seed, minimum=0)

    @classmethod
    def smoke(cls, **changes: Any) -> PoolConfig:
        """A 400-sentence pool (same sources, same exclusions) for tests and smoke runs."""
        return cls(**{"size": 400, **changes})

    def key(self) -> str:
        blob = json.dumps({**self.to_dict(), "version": POOL_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Pool(Record):
    """Unlabelled sentences for `bortkit.agora.samplers.PoolSampler`.

    Attributes:
        texts: the sentences.
        sources: the source of each ("imdb" or "wiki-lee").
        config: how they were chosen.
        n_candidates: sentences that qualified before the sample was drawn.
        n_excluded: sentences dropped because they are (in) an evaluation split.
    """

    texts: tuple[str, ...]
    sources: tuple[str, ...]
    config: PoolConfig
    n_candidates: int
    n_excluded: int

    def __len__(self) -> int:
        return len(self.texts)


def evaluation_keys(tasks: Iterable[str], *, split_seed: int = 0,
                    extra: Iterable[str] = ()) -> set[str]:
    """Keys (`sentence_key`) of every validation/test text of `tasks`, and of its sentences,
    plus those of the `extra` texts."""
    keys: set[str] = set()
    for task in tasks:
        keys |= _task_keys(task, split_seed)
    keys |= _keys(extra)
    keys.discard("")
    return keys


def _keys(texts: Iterable[str]) -> set[str]:
    keys: set[str] = set()
    for text in texts:
        keys.add(sentence_key(text))
        keys.update(sentence_key(s) for s in split_sentences(text))
    return keys


@functools.lru_cache(maxsize=16)
def _task_keys(task: str, split_seed: int) -> frozenset[str]:
    dd = load_task(task, seed=split_seed)
    return frozenset(_keys([*dd["validation"]["text"], *dd["test"]["text"]]))


def select_sentences(docs: Sequence[tuple[str, str]], *, exclude: set[str], min_words: int,
                     max_words: int) -> tuple[list[tuple[str, str]], int]:
    """(sentence, source) pairs of `docs` ((text, source) pairs) within the length bounds, each
    key once, none whose key is in `exclude`; and how many were excluded for that."""
    seen: set[str] = set()
    out, n_excluded = [], 0
    for text, source in docs:
        for sentence in split_sentences(text):
            if not min_words <= len(sentence.split()) <= max_words:
                continue
            key = sentence_key(sentence)
            if not key or key in seen:
                continue
            seen.add(key)
            if key in exclude:
                n_excluded += 1
                continue
            out.append((sentence, source))
    return out, n_excluded


def build_pool(config: PoolConfig = PoolConfig(), *, exclude_texts: Iterable[str] = (),
               cache: bool = True) -> Pool:
    """The pool of `config` (built once, then read from the cache).

    Args:
        config: sources, size, length bounds, excluded tasks.
        exclude_texts: more texts the pool must not contain (e.g. a user task's dev and test);
            a non-empty list bypasses the cache.
        cache: read/write ``cache_dir()/pool/pool-<key>.json``.
    """
    exclude_texts = list(exclude_texts)
    path = cache_dir() / "pool" / f"pool-{config.key()}.json"
    if cache and not exclude_texts and path.is_file():
        return Pool.load(path)
    docs: list[tuple[str, str]] = []
    if "imdb" in config.sources:  # only the train split: its dev/test reviews are never read
        docs += [(t, "imdb") for t in load_task("imdb", seed=config.split_seed)["train"]["text"]]
    if "wiki-lee" in config.sources:
        corpus = build_corpus(seed=config.split_seed)
        docs += [(t, "wiki-lee") for t in (*corpus.train_texts, *corpus.heldout_texts)]
    exclude = evaluation_keys(config.exclude_tasks, split_seed=config.split_seed,
                              extra=exclude_texts)
    candidates, n_excluded = select_sentences(docs, exclude=exclude, min_words=config.min_words,
                                              max_words=config.max_words)
    rng = np.random.default_rng(config.seed)
    pick = np.sort(rng.choice(len(candidates), min(config.size, len(candidates)), replace=False))
    pool = Pool(texts=tuple(candidates[i][0] for i in pick),
                sources=tuple(candidates[i][1] for i in pick), config=config,
                n_candidates=len(candidates), n_excluded=n_excluded)
    if not pool.texts:
        raise ValueError(f"the pool is empty: no sentence of {config.sources} passed the filters "
                         f"({config.min_words}-{config.max_words} words, not in an evaluation "
                         f"split)")
    if cache and not exclude_texts:
        pool.save(path)
    logger.info("pool %s: %d of %d candidate sentences (%d excluded as evaluation text)",
                config.key(), len(pool), len(candidates), n_excluded)
    return pool


def pool_embeddings(pool: Pool, embedder: Any, *, cache: bool = True) -> np.ndarray:
    """Embeddings (len(pool), d) of the pool's sentences by `embedder`.

    A `SentenceEmbedder`'s are cached beside the pool, keyed by the pool's settings, the model
    folder and the truncation length; any other embedder (e.g. a test's tiny random one) is
    simply called.
    """
    cache = cache and isinstance(embedder, SentenceEmbedder)
    model = f"{embedder.model_dir or 'minilm'}|{embedder.max_length}" if cache else ""
    tag = hashlib.sha256(f"{pool.config.key()}|{model}|{len(pool)}".encode()).hexdigest()[:16]
    path = cache_dir() / "pool" / f"emb-{tag}.npy"
    if cache and path.is_file():
        emb = np.load(path)
        if len(emb) == len(pool):
            return emb
    emb = np.asarray(embedder(list(pool.texts)), dtype=np.float32)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, emb)
        tmp.replace(path)  # atomic: a reader sees no file or the whole one
    return emb


__all__ = [
    "POOL_SOURCES",
    "POOL_VERSION",
    "Pool",
    "PoolConfig",
    "build_pool",
    "evaluation_keys",
    "pool_embeddings",
    "select_sentences",
    "sentence_key",
    "split_sentences",
]
