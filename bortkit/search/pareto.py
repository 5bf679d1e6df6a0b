"""Pareto dominance, non-dominated sorting and hypervolume (every objective is minimised).

The FPTAS returns, next to its argmax-W architecture, the Pareto front of everything it trained
over the three objectives (p, i, e) (DESIGN.md, project choice 4). This module is plain numpy:
dominance, Deb's fast non-dominated sort (any number of objectives), and exact hypervolume by
sweeping (2 objectives) and slicing (3 or more objectives, HSO).

Hypervolumes are only comparable under the same reference point and scaling, so `Front` stores
both. The project's default (`front`): divide each objective by its maximum over the points
(or a given `scale`, e.g. the exhaustive run's maxima when comparing methods), and put the
reference point at 1.1 in every normalised coordinate, i.e. 1.1 × the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from bortkit.records import Record

DEFAULT_REF_FACTOR = 1.1


def _as_points(points: Any, name: str = "points") -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim == 1 and arr.size == 0:
        return arr.reshape(0, 0)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_points, n_objectives), got shape {arr.shape}"
        )
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return arr


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when `a` Pareto-dominates `b`: no worse in every objective and better in one."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_.shape != b_.shape:
        raise ValueError(f"dominates: shapes differ, {a_.shape} vs {b_.shape}")
    return bool(np.all(a_ <= b_) and np.any(a_ < b_))


def non_dominated_sort(points: Any) -> list[list[int]]:
    """Deb et al.'s fast non-dominated sort: fronts of indices, best front first.

    Front 0 holds the points no other point dominates; front k those dominated only by points in
    fronts < k. Duplicated points share a front. Indices within a front are ascending.
    """
    pts = _as_points(points)
    n = len(pts)
    if n == 0:
        return []
    # (n, n) dominance matrix: dom[a, b] is True when a dominates b.
    le = np.all(pts[:, None, :] <= pts[None, :, :], axis=2)
    lt = np.any(pts[:, None, :] < pts[None, :, :], axis=2)
    dom = le & lt
    n_dominators = dom.sum(axis=0)
    fronts: list[list[int]] = []
    current = [int(i) for i in np.flatnonzero(n_dominators == 0)]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in np.flatnonzero(dom[i]):
                n_dominators[j] -= 1
                if n_dominators[j] == 0:
                    nxt.append(int(j))
        current = sorted(nxt)
    return fronts


def pareto_indices(points: Any) -> list[int]:
    """Indices of the non-dominated points (front 0), ascending."""
    fronts = non_dominated_sort(points)
    return fronts[0] if fronts else []


def _hv2(pts: np.ndarray, ref: np.ndarray) -> float:
    # Sweep in x with the running minimum of y: a point that lowers y adds the rectangle from
    # its x to the reference, between the new and the old minimum.
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    total, best_y = 0.0, float(ref[1])
    for x, y in pts[order]:
        if y < best_y:
            total += (ref[0] - x) * (best_y - y)
            best_y = float(y)
    return float(total)


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    d = pts.shape[1]
    if d == 1:
        return float(ref[0] - pts[:, 0].min())
    if d == 2:
        return _hv2(pts, ref)
    # Slice along the last objective (HSO): between consecutive distinct values of that
    # objective, the covered (d-1)-volume is that of the points at or below the slice.
    last = np.unique(pts[:, -1])
    bounds = np.append(last, ref[-1])
    total = 0.0
    for k in range(len(last)):
        below = pts[pts[:, -1] <= last[k], :-1]
        total += _hv(below, ref[:-1]) * (bounds[k + 1] - bounds[k])
    return float(total)


def hypervolume(points: Any, ref: Sequence[float]) -> float:
    """Exact hypervolume dominated by `points` and bounded by the reference point `ref`.

    Minimisation; points not strictly better than `ref` in every objective contribute nothing.
    Exact for any number of objectives (sweep in 2-D, slicing above); intended for the 2 and 3
    objective fronts of this project (a few hundred points).
    """
    pts = _as_points(points)
    ref_ = np.asarray(ref, dtype=float)
    if ref_.ndim != 1 or not np.all(np.isfinite(ref_)):
        raise ValueError(f"hypervolume: ref must be a finite 1-D point, got {ref!r}")
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] != ref_.shape[0]:
        raise ValueError(
            f"hypervolume: ref has {ref_.shape[0]} objectives but points have {pts.shape[1]}"
        )
    front = pts[pareto_indices(pts)]
    return _hv(front, ref_)


@dataclass(frozen=True)
class Front(Record):
    """The non-dominated subset of a point set, with its hypervolume and how it was measured.

    Attributes:
        names: objective names, e.g. ``("params", "ops", "error")``.
        indices: positions (in the caller's point list) of the non-dominated points, ascending.
        points: the raw objective values of those points (same order as `indices`).
        scale: the per-objective divisors used to normalise before the hypervolume.
        ref_point: the reference point in normalised coordinates.
        hypervolume: of the normalised front w.r.t. `ref_point`.
    """

    names: tuple[str, ...]
    indices: tuple[int, ...]
    points: tuple[tuple[float, ...], ...]
    scale: tuple[float, ...]
    ref_point: tuple[float, ...]
    hypervolume: float

    def __len__(self) -> int:
        return len(self.indices)


def normalised_hypervolume(
    points: Any, *, scale: Sequence[float], ref_factor: float = DEFAULT_REF_FACTOR
) -> float:
    """Hypervolume of `points / scale`, reference point `ref_factor` in every coordinate."""
    pts = _as_points(points)
    scale_ = np.asarray(scale, dtype=float)
    if np.any(scale_ <= 0):
        raise ValueError(f"scale must be positive in every objective, got {list(scale_)}")
    if len(pts) == 0:
        return 0.0
    return hypervolume(pts / scale_, np.full(len(scale_), float(ref_factor)))


def front(
    points: Any,
    *,
    names: Sequence[str],
    scale: Sequence[float] | None = None,
    ref_factor: float = DEFAULT_REF_FACTOR,
) -> Front:
    """The `Front` of `points` with a normalised hypervolume.

    Args:
        points: (n, k) objective values, all minimised.
        names: k objective names.
        scale: per-objective divisors; default the maxima over `points` (so that with the default
            `ref_factor` the reference point is 1.1 × the maximum of each objective). Pass the
            same `scale` to compare fronts of different methods.
        ref_factor: the reference point in normalised coordinates (same in each objective).
    """
    pts = _as_points(points)
    if len(pts) and pts.shape[1] != len(names):
        raise ValueError(f"front: {len(names)} names for {pts.shape[1]} objectives")
    if ref_factor <= 1.0:
        raise ValueError(f"ref_factor must be > 1 so every point counts, got {ref_factor}")
    if scale is None:
        scale = pts.max(axis=0) if len(pts) else np.ones(len(names))
        scale = np.where(np.asarray(scale) > 0, scale, 1.0)
    idx = pareto_indices(pts) if len(pts) else []
    hv = normalised_hypervolume(pts, scale=scale, ref_factor=ref_factor)
    return Front(
        names=tuple(names),
        indices=tuple(idx),
        points=tuple(tuple(float(v) for v in pts[i]) for i in idx),
        scale=tuple(float(v) for v in scale),
        ref_point=tuple(float(ref_factor) for _ in names),
        hypervolume=hv,
    )


__all__ = [
    "DEFAULT_REF_FACTOR",
    "Front",
    "dominates",
    "front",
    "hypervolume",
    "non_dominated_sort",
    "normalised_hypervolume",
    "pareto_indices",
]
