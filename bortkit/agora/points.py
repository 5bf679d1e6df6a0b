"""Agora's points: items of any kind (coordinate rows or texts) and a round's accepted samples.

numpy only, like `bortkit.agora.loop`, which uses these helpers: `take`/`concat`/`n_points` treat
an (n, d) array and a list of texts alike; `point_key` is the identity of one point for the
"never a dev point" check; `sample_around` runs the sampler over chunks of source indices and
collects what it accepted (`Added`), with each point's sampler kind and the proposals made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from bortkit.agora.records import AgoraConfig

logger = logging.getLogger(__name__)

Points = Any  # np.ndarray (n, d) or a sequence of items (e.g. texts); see `concat`/`take`


def n_points(x: Points) -> int:
    return int(x.shape[0]) if isinstance(x, np.ndarray) else len(x)


def take(x: Points, idx: Sequence[int] | np.ndarray) -> Points:
    if isinstance(x, np.ndarray):
        return x[np.asarray(idx, dtype=int)]
    return [x[int(i)] for i in idx]


def concat(a: Points, b: Points) -> Points:
    if isinstance(a, np.ndarray):
        return np.concatenate([a, np.asarray(b, dtype=a.dtype).reshape(-1, *a.shape[1:])])
    return list(a) + list(b)


def point_key(item: Any) -> Any:
    """Hashable identity of one point, for the "never a dev point" check."""
    if isinstance(item, np.ndarray):
        return ("arr", item.dtype.str, item.tobytes())
    return ("obj", item)


def jsonable(item: Any) -> Any:
    if isinstance(item, np.ndarray):
        return tuple(float(v) for v in item.ravel())
    return item


@dataclass
class Added:
    """A round's accepted points: points, source index, sampler kind, and the labeller's
    labels/confidence once labelled; `sources` are all points sampled around, `proposals` the
    proposals each sampler made."""

    x: Points
    src: np.ndarray
    kinds: list[str]
    sources: np.ndarray
    proposals: dict[str, int]
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    conf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=float))

    @classmethod
    def empty(cls, like: Points) -> Added:
        return cls(take(like, []), np.zeros(0, dtype=int), [], np.zeros(0, dtype=int), {})

    def without(self, keys: set[Any], r: int) -> Added:
        """Drop proposals equal to a held-out (dev or selection) point: never copied to train."""
        keep = [i for i in range(n_points(self.x)) if point_key(self.x[i]) not in keys]
        if len(keep) < n_points(self.x):
            logger.info("round %d: dropped %d proposals equal to dev points", r,
                        n_points(self.x) - len(keep))
        out = Added(take(self.x, keep), self.src[keep], [self.kinds[i] for i in keep],
                     self.sources, self.proposals)
        assert not any(point_key(out.x[i]) in keys for i in range(n_points(out.x)))
        return out


def random_chunks(n_train: int, size: int, seed: int, r: int, more: bool) -> list[np.ndarray]:
    """The control's sources: a seeded permutation of the initial train set cut into chunks of
    `size` (the number of mistakes the round would sample around); one chunk unless `more`."""
    if size <= 0 or n_train == 0:
        return []
    perm = np.random.default_rng([seed, r, 2]).permutation(n_train)
    chunks = [perm[i:i + size] for i in range(0, n_train, size)]
    return chunks if more else chunks[:1]


def sample_around(sampler: Any, space: Points, chunks: Sequence[np.ndarray],
                  config: AgoraConfig, seed: int, r: int, *, target: int | None = None) -> Added:
    """Run `sampler` (a `bortkit.agora.loop.Sampler`) around each chunk of source indices into
    `space` in turn; stop once `target` points are accepted, then keep exactly `target`: the
    first ones in the sampler's own order (a `MixedSampler` lists its mask-and-refill points
    before its pool points)."""
    out = Added.empty(space)
    xs: list[Points] = []
    for k, chunk in enumerate(chunks):
        if target is not None and len(out.src) >= target:
            break
        if not len(chunk):
            continue
        new_x, src_local = sampler.sample(take(space, chunk),
                                          n_per_source=config.samples_per_mistake,
                                          band=config.band, seed=derive_seed(seed, r, k))
        src_local = np.asarray(src_local, dtype=int)
        kinds = list(getattr(sampler, "last_kinds_", None) or [])
        if len(kinds) != n_points(new_x):
            kinds = [str(getattr(sampler, "kind", "sampler"))] * n_points(new_x)
        for name, n in (getattr(sampler, "last_proposals_", None) or {}).items():
            out.proposals[str(name)] = out.proposals.get(str(name), 0) + int(n)
        xs.append(new_x)
        out.src = np.concatenate([out.src, chunk[src_local] if len(src_local) else src_local])
        out.kinds += kinds
        out.sources = np.concatenate([out.sources, chunk])
    for new_x in xs:
        out.x = concat(out.x, new_x) if n_points(new_x) else out.x
    if target is not None and len(out.src) > target:
        out.x, out.src = take(out.x, range(target)), out.src[:target]
        out.kinds = out.kinds[:target]
    return out


def derive_seed(seed: int, r: int, k: int = 0) -> int:
    """The sampler's seed for round `r` (chunk `k`): distinct per call, fixed by the run seed."""
    parts = [seed, r] if k == 0 else [seed, r, k]
    return int(np.random.SeedSequence(parts).generate_state(1)[0] % 2**31)


__all__ = [
    "Added",
    "Points",
    "concat",
    "derive_seed",
    "jsonable",
    "n_points",
    "point_key",
    "random_chunks",
    "sample_around",
    "take",
]
