"""Shared fixtures of the Agora text tests: six labelled sentences and tiny random models (an MLM
to refill masks, an encoder to embed), built in code; tests never call a hub."""

from __future__ import annotations

import functools

import pytest

from bortkit.embed import hidden_state_embeddings

TEXTS = [
    "a gripping , beautifully acted film about grief",
    "the plot is thin and the jokes fall flat",
    "one of the most charming movies of the year",
    "tedious , overlong and badly edited",
    "a warm and funny story with a great cast",
    "i wanted to leave after twenty minutes",
]
LABELS = [1, 0, 1, 0, 1, 0]


@pytest.fixture(scope="session")
def sentences():
    """(texts, labels): six movie-review sentences, alternating positive and negative."""
    return list(TEXTS), list(LABELS)


@pytest.fixture(scope="session")
def tiny(tokenizer):
    """(tokenizer, a tiny random BertForMaskedLM, an embedder over a tiny random BertModel)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel

    cfg = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    mlm = BertForMaskedLM(cfg).eval()
    enc = BertModel(cfg).eval()
    return tokenizer, mlm, functools.partial(hidden_state_embeddings, enc, tokenizer)


@pytest.fixture(scope="session")
def task_data(sentences):
    """A task DatasetDict of the six sentences: train = 4, validation = all 6, test = 4."""
    import datasets

    texts, labels = sentences
    feats = datasets.Features({"text": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["neg", "pos"])})

    def split(t, y):
        return datasets.Dataset.from_dict({"text": t, "label": y}, features=feats)

    return datasets.DatasetDict(train=split(texts[:4], labels[:4]),
                                validation=split(texts, labels),
                                test=split(texts[2:], labels[2:]))
