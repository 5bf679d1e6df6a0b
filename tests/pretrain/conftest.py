"""Shared fixtures of the pretraining tests: a small real-text corpus and a tiny
restricted-head teacher (random encoder) built the way `bortkit.pretrain.teacher` builds one
(`teacher_head.from_encoder`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bortkit.arch import ArchSpec
from bortkit.data.corpus import Corpus
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.teacher_head import from_encoder
from bortkit.pretrain.vocab import build_vocab


def _lee_corpus(n_lines: int) -> Corpus:
    lee = Path(importlib.util.find_spec("gensim").origin).parent / "test/test_data"
    lines = (lee / "lee_background.cor").read_text(encoding="utf-8").splitlines()
    paragraphs = [line.strip() for line in lines[:n_lines] if line.strip()]
    return Corpus.from_texts(paragraphs[:-4], paragraphs[-4:])


@pytest.fixture(scope="session")
def lee_corpus():
    """``lee_corpus(n_lines=40)``: the first lines of gensim's Lee corpus (last 4 held out)."""
    return _lee_corpus


@pytest.fixture(scope="session")
def tiny_teacher(tokenizer):
    """``tiny_teacher(corpus, seed=0, size=200)``: a random D2-A2-H64-I64 encoder with the
    teacher's restricted head over the corpus's `size` most frequent tokens (plus specials)."""
    import torch
    from transformers import BertModel

    def make(corpus: Corpus, *, seed: int = 0, size: int = 200):
        blocks = corpus_blocks(corpus, tokenizer, seq_len=32)
        vocab = build_vocab(blocks.train, full_size=len(tokenizer),
                            special_ids=tokenizer.all_special_ids, size=size)
        spec = ArchSpec(2, 2, 64, 64, vocab_size=len(tokenizer), max_position_embeddings=64)
        torch.manual_seed(seed)
        encoder = BertModel(spec.to_bert_config(), add_pooling_layer=False)
        model = from_encoder(encoder, vocab)
        with torch.no_grad():  # a head that is not the warm start's near-identity
            for p in model.cls.parameters():
                p.add_(0.05 * torch.randn_like(p))
        return model.eval()

    return make
