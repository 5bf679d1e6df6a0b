"""Picking a shape from an FPTAS run under budgets (bortkit.search.pick)."""

from __future__ import annotations

import pytest

from bortkit.arch import ArchSpec, count_ops, count_params
from bortkit.search import FptasConfig, SearchSpace, fptas
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.pick import budget_pick, pick


def test_budget_pick_is_the_lowest_error_inside_both_budgets():
    res = fptas.search(SearchSpace.named("cpu"), FptasConfig(epsilon=0.25, steps=20),
                       evaluator=SyntheticEvaluator(), progress=False)
    teacher = ArchSpec(6, 12, 384, 1536)
    t_eff, t_ops = count_params(teacher).effective, count_ops(teacher, seq_len=128).total
    pick = budget_pick(res, teacher, size_budget=0.2, min_ops_ratio=10)
    inside = [c for c in res.trained if count_params(c.spec).effective <= 0.2 * t_eff
              and 10 * count_ops(c.spec, seq_len=128).total <= t_ops]
    assert pick.trained and pick in inside and pick.error == min(c.error for c in inside)
    assert len(inside) < res.n_trained  # the budgets did exclude something
    loose = budget_pick(res, teacher, size_budget=1.0, min_ops_ratio=1.0)
    assert loose.error <= pick.error
    with pytest.raises(ValueError, match="size_budget=1e-06"):
        budget_pick(res, teacher, size_budget=1e-6, min_ops_ratio=10)


def test_pick_w_is_the_runs_choice_and_bad_input_is_named():
    res = fptas.search(SearchSpace.named("cpu"), FptasConfig(epsilon=0.5, steps=20),
                       evaluator=SyntheticEvaluator(), progress=False)
    teacher = ArchSpec(6, 12, 384, 1536)
    assert pick(res, "w", teacher) == res.chosen
    assert pick(res, "budget", teacher) == budget_pick(res, teacher)
    with pytest.raises(ValueError, match="pick='best'"):
        pick(res, "best", teacher)
    with pytest.raises(ValueError, match=r"size_budget must lie in \(0, 1\]"):
        budget_pick(res, teacher, size_budget=0.0)
    with pytest.raises(ValueError, match="min_ops_ratio"):
        budget_pick(res, teacher, min_ops_ratio=-1.0)
