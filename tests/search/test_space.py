"""Search spaces Ξ: the paper's 300 shapes, the presets, validation and the record round trip."""

from __future__ import annotations

import pytest

from bortkit.search.space import SearchSpace


def test_search_spaces():
    paper = SearchSpace.paper()
    assert len(paper) == 300  # 6 D x 10 valid (A, H) x 5 I
    assert all(s.hidden_size % s.num_attention_heads == 0 for s in paper)
    assert SearchSpace.from_dict(paper.to_dict()) == paper
    assert len(SearchSpace.tiny()) > 0 and len(SearchSpace.cpu_default()) > 0
    with pytest.raises(ValueError, match="empty"):
        SearchSpace(layers=(1,), heads=(3,), hidden=(16,), intermediate=(8,))
    with pytest.raises(ValueError, match="layers"):
        SearchSpace(layers=(), heads=(1,), hidden=(16,), intermediate=(8,))
    with pytest.raises(ValueError, match="valid spaces"):
        SearchSpace.named("huge")
    with pytest.raises(ValueError, match="SearchSpace.vocab_size"):
        SearchSpace(layers=(1,), heads=(1,), hidden=(16,), intermediate=(8,), vocab_size=0)
