"""Pareto dominance, non-dominated sorting and hypervolume against brute force and hand values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bortkit.search import pareto


def _brute_fronts(points):
    """Peel fronts by definition: the points no remaining point dominates."""
    remaining = list(range(len(points)))
    fronts = []
    while remaining:
        front = [
            i for i in remaining
            if not any(pareto.dominates(points[j], points[i]) for j in remaining)
        ]
        fronts.append(front)
        remaining = [i for i in remaining if i not in front]
    return fronts


def _brute_hv_integer(points, ref):
    """Count unit cells [c, c+1)^k below `ref` dominated by some point (integer coordinates)."""
    k = len(ref)
    count = 0
    for cell in itertools.product(*(range(r) for r in ref)):
        if any(all(p[d] <= cell[d] for d in range(k)) for p in points):
            count += 1
    return count


def test_dominates_hand_cases():
    assert pareto.dominates((1, 2), (2, 2))
    assert pareto.dominates((1, 1, 1), (1, 1, 2))
    assert not pareto.dominates((1, 2), (1, 2))  # equal points do not dominate
    assert not pareto.dominates((1, 3), (2, 2))  # incomparable
    assert not pareto.dominates((2, 2), (1, 2))


def test_dominates_shape_mismatch():
    with pytest.raises(ValueError, match="shapes differ"):
        pareto.dominates((1, 2), (1, 2, 3))


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_non_dominated_sort_matches_brute_force(k, seed):
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, 6, size=(40, k)).tolist()  # small range: many ties and duplicates
    assert pareto.non_dominated_sort(pts) == _brute_fronts(pts)
    assert pareto.pareto_indices(pts) == _brute_fronts(pts)[0]


def test_non_dominated_sort_hand_case():
    pts = [(1, 5), (2, 2), (5, 1), (3, 3), (4, 4), (2, 2)]
    assert pareto.non_dominated_sort(pts) == [[0, 1, 2, 5], [3], [4]]


def test_empty_inputs():
    assert pareto.non_dominated_sort([]) == []
    assert pareto.hypervolume(np.zeros((0, 3)), (1, 1, 1)) == 0.0


def test_hypervolume_2d_hand():
    # Union of [1,4]x[3,4] (3) and [2,4]x[1,4] (6) minus overlap [2,4]x[3,4] (2) = 7.
    assert pareto.hypervolume([(1, 3), (2, 1)], (4, 4)) == pytest.approx(7.0)


def test_hypervolume_3d_hand():
    assert pareto.hypervolume([(1, 1, 1)], (2, 2, 2)) == pytest.approx(1.0)
    # Boxes 2·2·1 and 1·1·2 overlapping in a unit cube: 4 + 2 − 1 = 5.
    assert pareto.hypervolume([(0, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx(5.0)


def test_hypervolume_ignores_points_beyond_ref_and_dominated_points():
    assert pareto.hypervolume([(1, 1), (5, 0), (2, 2)], (3, 3)) == pytest.approx(4.0)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hypervolume_matches_cell_count(k, seed):
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, 6, size=(12, k)).tolist()
    ref = (6,) * k
    assert pareto.hypervolume(pts, ref) == pytest.approx(_brute_hv_integer(pts, ref))


def test_hypervolume_ref_dimension_mismatch():
    with pytest.raises(ValueError, match="ref has 2 objectives"):
        pareto.hypervolume([(1, 1, 1)], (2, 2))


def test_points_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        pareto.non_dominated_sort([(1.0, float("nan"))])


def test_points_must_be_2d():
    with pytest.raises(ValueError, match="2-D"):
        pareto.non_dominated_sort([1.0, 2.0])


def test_front_record_default_scale_and_reference():
    pts = [(10.0, 4.0), (20.0, 2.0), (30.0, 3.0)]
    fr = pareto.front(pts, names=("p", "e"))
    assert fr == pareto.Front(
        names=("p", "e"),
        indices=(0, 1),
        points=((10.0, 4.0), (20.0, 2.0)),
        scale=(30.0, 4.0),
        ref_point=(1.1, 1.1),
        hypervolume=pytest.approx(pareto.hypervolume([(1 / 3, 1.0), (2 / 3, 0.5)], (1.1, 1.1))),
    )
    assert pareto.Front.from_dict(fr.to_dict()) == fr


def test_front_shared_scale_makes_hypervolumes_comparable():
    sub = [(10.0, 4.0)]
    full = [(10.0, 4.0), (20.0, 2.0)]
    scale = (20.0, 4.0)
    assert (pareto.front(sub, names=("p", "e"), scale=scale).hypervolume
            < pareto.front(full, names=("p", "e"), scale=scale).hypervolume)


def test_front_ref_factor_must_exceed_one():
    with pytest.raises(ValueError, match="ref_factor"):
        pareto.front([(1, 1)], names=("a", "b"), ref_factor=1.0)


def test_front_names_must_match():
    with pytest.raises(ValueError, match="names"):
        pareto.front([(1, 1)], names=("a", "b", "c"))


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="scale"):
        pareto.normalised_hypervolume([(1, 1)], scale=(1, 0))
