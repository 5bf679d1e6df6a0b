"""The article's toy network counts: 72 -> 40 by the caption's counting."""

from __future__ import annotations

import pytest

from bortkit.tour import ARTICLE_EXTRACTED, ARTICLE_SOURCE, ToyNetwork, article_param_count


def test_article_counts():
    assert article_param_count(ARTICLE_SOURCE) == 72
    assert article_param_count(ARTICLE_EXTRACTED) == 40
    assert ARTICLE_SOURCE.shapes == ((4, 3), (4, 4))


@pytest.mark.parametrize("xi, match", [((), "positive"), ((2, 4, 3), "need 5"),
                                       ((1, 0, 3), "positive"), ((1, 2.0, 3), "positive")])
def test_validation(xi, match):
    with pytest.raises(ValueError, match=match):
        ToyNetwork(xi)
