"""The article's toy network counts: 72 -> 40 by the caption's counting."""

from __future__ import annotations

import pytest

from bortkit import arch
from bortkit.plots import tour as tour_plots
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.search.tour import (
    ARTICLE_EXTRACTED,
    ARTICLE_SOURCE,
    AbncRow,
    ToyNetwork,
    abnc_costs,
    article_param_count,
    epsilon_sweep,
)


def test_article_counts():
    assert article_param_count(ARTICLE_SOURCE) == 72
    assert article_param_count(ARTICLE_EXTRACTED) == 40
    assert ARTICLE_SOURCE.shapes == ((4, 3), (4, 4))


@pytest.mark.parametrize("xi, match", [((), "positive"), ((2, 4, 3), "need 5"),
                                       ((1, 0, 3), "positive"), ((1, 2.0, 3), "positive")])
def test_validation(xi, match):
    with pytest.raises(ValueError, match=match):
        ToyNetwork(xi)


def test_abnc_costs_middle_layers_dominate_ops():
    (row,) = abnc_costs([arch.PRESETS["bert-base"]])
    assert row.b_params == arch.layer_params(768, 3072)
    assert row.b_ops > 100 * (row.a_ops + row.c_ops)  # A and C are cheap in operations
    total = arch.count_ops(arch.PRESETS["bert-base"]).total
    assert row.a_ops + 12 * row.b_ops + row.c_ops == total


def test_epsilon_sweep_guarantee_on_synthetic_evaluator():
    sweep, best = epsilon_sweep(SearchSpace.tiny(), FptasConfig(steps=20),
                                evaluator=SyntheticEvaluator(), epsilons=[0.1, 0.9])
    assert sweep.n_trained[0] >= sweep.n_trained[1]
    assert all(w >= 1 - e for w, e in zip(sweep.w_ratio, sweep.epsilons))
    assert best.n_trained == sweep.n_space
    fig = tour_plots.epsilon_sweep_figure(sweep)
    assert [t.name for t in fig.data] == ["candidates trained", "W / W(exhaustive)", "goal 1 − ε"]
    assert list(fig.data[0].y) == list(sweep.n_trained)
    land = tour_plots.w_landscape(best)
    assert len(land.labels) == best.n_trained and land.chosen == best.chosen.spec.label
    with pytest.raises(ValueError, match="epsilons"):
        epsilon_sweep(SearchSpace.tiny(), FptasConfig(steps=20), evaluator=SyntheticEvaluator(),
                      epsilons=[])


def test_tour_records_round_trip():
    (row,) = abnc_costs([arch.PRESETS["bort"]])
    assert AbncRow.from_dict(row.to_dict()) == row
    assert ToyNetwork.from_dict(ARTICLE_SOURCE.to_dict()) == ARTICLE_SOURCE
