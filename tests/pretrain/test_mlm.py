"""Masked-position MLM utilities: only masked positions are projected, masking is seeded."""

from __future__ import annotations

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.pretrain import mlm

TEXT = ("The quick brown fox jumps over the lazy dog. " * 40).strip()




@pytest.fixture(scope="module")
def model(tokenizer):
    from transformers import BertForMaskedLM

    torch.manual_seed(0)
    spec = ArchSpec(2, 2, 32, 64, vocab_size=tokenizer.vocab_size, max_position_embeddings=64)
    return BertForMaskedLM(spec.to_bert_config()).eval()


def test_chunk_texts_blocks(tokenizer):
    blocks = mlm.chunk_texts([TEXT, TEXT], tokenizer, 16)
    assert blocks.shape[1] == 16 and blocks.shape[0] > 10
    assert (blocks[:, 0] == tokenizer.cls_token_id).all()
    assert (blocks[:, -1] == tokenizer.sep_token_id).all()
    with pytest.raises(ValueError, match="less than one block"):
        mlm.chunk_texts(["hi"], tokenizer, 64)
    with pytest.raises(ValueError, match="seq_len"):
        mlm.chunk_texts([TEXT], tokenizer, 4)


def test_mask_batch_seeded_and_spares_specials(tokenizer):
    blocks = mlm.chunk_texts([TEXT], tokenizer, 32)
    a = mlm.mask_batch(blocks, tokenizer, generator=torch.Generator().manual_seed(1))
    b = mlm.mask_batch(blocks, tokenizer, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    labels = a[1]
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()
    frac = (labels != -100).float().mean().item()
    assert 0.05 < frac < 0.25
    with pytest.raises(ValueError, match="mlm_probability"):
        mlm.mask_batch(blocks, tokenizer, mlm_probability=1.5)


def test_masked_logits_equal_full_logits_at_masked_positions(tokenizer, model):
    blocks = mlm.chunk_texts([TEXT], tokenizer, 32)[:4]
    inputs, labels = mlm.mask_batch(blocks, tokenizer, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, gold = mlm.masked_logits(model, inputs, torch.ones_like(inputs), labels)
        full = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).logits
    sel = labels != -100
    assert logits.shape == (int(sel.sum()), tokenizer.vocab_size)
    assert torch.allclose(logits, full[sel], atol=1e-5)
    assert torch.equal(gold, labels[sel])


def test_evaluate_mlm_deterministic(tokenizer, model):
    blocks = mlm.chunk_texts([TEXT], tokenizer, 32)
    one = mlm.evaluate_mlm(model, blocks, tokenizer, batch_size=8, seed=3)
    two = mlm.evaluate_mlm(model, blocks, tokenizer, batch_size=8, seed=3)
    assert one == two
    assert 0.0 <= one.accuracy <= 1.0 and one.loss > 0 and one.n_tokens > 0
    assert one.error == pytest.approx(1 - one.accuracy)
    assert mlm.MlmEval.from_dict(one.to_dict()) == one
