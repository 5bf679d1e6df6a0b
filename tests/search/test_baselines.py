"""Baselines on the same evaluator: exhaustive (the optimum) and seeded NSGA-II."""

from __future__ import annotations

import pytest

from bortkit.search import baselines, fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.search.store import Store
from bortkit.theta import theta_grid

EV = SyntheticEvaluator()
CFG = FptasConfig(epsilon=0.25, steps=20, theta=theta_grid("lr2"))
SPACE = SearchSpace.cpu_default()


def test_exhaustive_trains_every_candidate_and_is_the_optimum():
    ex = baselines.exhaustive(SPACE, CFG, evaluator=EV, progress=False)
    res = fptas.search(SPACE, CFG, evaluator=EV, progress=False)
    assert ex.method == "exhaustive" and ex.n_trained == ex.n_space == 81
    assert res.chosen.w <= ex.chosen.w
    assert ex.chosen.w == max(c.w for c in ex.candidates)


def test_nsga2_trains_exactly_n_distinct_candidates_and_is_seeded():
    a = baselines.nsga2(SPACE, CFG, evaluator=EV, n_candidates=15, seed=3, progress=False)
    b = baselines.nsga2(SPACE, CFG, evaluator=EV, n_candidates=15, seed=3, progress=False)
    ex = baselines.exhaustive(SPACE, CFG, evaluator=EV, progress=False)
    assert a.method == "nsga2" and a.n_trained == 15
    assert [c.index for c in a.trained] == [c.index for c in b.trained]
    assert a.chosen.w <= ex.chosen.w
    # The same (ξ, θ, steps, seed) gives the same error whichever method trained it.
    by_index = {c.index: c.error for c in ex.candidates}
    assert all(c.error == by_index[c.index] for c in a.trained)


def test_nsga2_reuses_the_shared_store():
    store = Store()
    ex = baselines.exhaustive(SPACE, CFG, evaluator=EV, store=store, progress=False)
    ns = baselines.nsga2(SPACE, CFG, evaluator=EV, n_candidates=10, store=store, progress=False)
    assert ns.n_cached == ns.n_evaluations == 20
    assert len(store) == ex.n_evaluations


@pytest.mark.parametrize("n", [0, 82, 2.5])
def test_nsga2_invalid_n_candidates(n):
    with pytest.raises(ValueError, match="n_candidates must be an int in \\[1, 81\\]"):
        baselines.nsga2(SPACE, CFG, evaluator=EV, n_candidates=n, progress=False)
