"""The KD objective: identities, the released code's variant, students and vocabularies."""

from __future__ import annotations

import math

import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.pretrain import distill

pytestmark = pytest.mark.usefixtures("one_thread")


def _logits(n: int = 6, v: int = 50, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, v, generator=torch.Generator().manual_seed(seed)) * 3


def test_kd_term_zero_when_student_equals_teacher():
    z = _logits()
    assert distill.kd_term(z, z.clone()).item() == pytest.approx(0.0, abs=1e-6)
    parts = distill.kd_loss(z, z.clone(), torch.zeros(6, dtype=torch.long))
    assert parts.kd.item() == pytest.approx(0.0, abs=1e-6)
    assert parts.total.item() == pytest.approx(0.1 * parts.mlm.item(), rel=1e-5)


def test_kd_term_matches_explicit_kl_times_t_squared():
    s, t = _logits(seed=1), _logits(seed=2)
    p = torch.softmax(t / 2, -1)
    q = torch.softmax(s / 2, -1)
    expected = 4 * (p * (p.log() - q.log())).sum(-1).mean()
    assert distill.kd_term(s, t, temperature=2.0).item() == pytest.approx(expected.item(),
                                                                            rel=1e-5)
    assert distill.kd_term(s, t).item() > 0


def test_kd_loss_weights_and_gradient():
    s, t = _logits(seed=3).requires_grad_(), _logits(seed=4)
    gold = torch.arange(6)
    parts = distill.kd_loss(s, t, gold, w_mlm=0.1, w_kd=0.5, temperature=2.0)
    assert parts.total.item() == pytest.approx(0.1 * parts.mlm.item() + 0.5 * parts.kd.item(),
                                               rel=1e-5)
    parts.total.backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    mlm_only = distill.kd_loss(s.detach(), None, gold, w_mlm=1.0)
    assert mlm_only.kd.item() == 0.0
    assert mlm_only.total.item() == pytest.approx(
        torch.nn.functional.cross_entropy(s.detach(), gold).item(), rel=1e-6)


def test_bort_code_variant_reproduces_the_quirk():
    s, t = _logits(seed=5), _logits(seed=6)
    p = torch.softmax(t / 2, -1)
    q = torch.softmax(s / 2, -1)
    quirk = 4 * (p * ((p + 1e-12).log() - torch.log_softmax(q, -1))).mean(-1).mean()
    got = distill.kd_term(s, t, kd_variant="bort-code")
    assert got.item() == pytest.approx(quirk.item(), rel=1e-5)
    # the quirk is not a divergence: it is far from 0 even when student == teacher
    same = distill.kd_term(s, s.clone(), kd_variant="bort-code").item()
    assert not math.isclose(same, 0.0, abs_tol=1e-3)


def test_empty_selection_is_zero():
    empty = torch.zeros(0, 50)
    assert distill.kd_term(empty, empty).item() == 0.0
    parts = distill.kd_loss(empty, empty, torch.zeros(0, dtype=torch.long))
    assert parts.total.item() == 0.0


def test_rejects_bad_variant():
    with pytest.raises(ValueError, match="kd_variant"):
        distill.kd_term(_logits(), _logits(), kd_variant="mse")


def test_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        distill.kd_term(_logits(), _logits(), temperature=0.0)


def test_rejects_negative_weight():
    with pytest.raises(ValueError, match="w_kd"):
        distill.kd_loss(_logits(), _logits(), torch.zeros(6, dtype=torch.long), w_kd=-1.0)


def test_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="vocabulary"):
        distill.kd_term(_logits(v=50), _logits(v=40))


def test_build_student_seeded_and_vocab_checked(tokenizer):
    spec = ArchSpec(2, 2, 32, 64, vocab_size=len(tokenizer), max_position_embeddings=64)
    a = distill.build_student(spec, tokenizer, seed=3)
    b = distill.build_student(spec, tokenizer, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values()))
    assert a.config.pad_token_id == tokenizer.pad_token_id
    with pytest.raises(ValueError, match="vocab"):
        distill.build_student(spec.replace(vocab_size=50265), tokenizer)


def test_clip_weights(tokenizer):
    spec = ArchSpec(1, 2, 32, 64, vocab_size=len(tokenizer), max_position_embeddings=64)
    model = distill.build_student(spec, tokenizer)
    distill.clip_weights_(model, 0.01)
    assert max(p.abs().max().item() for p in model.parameters()) <= 0.01
    with pytest.raises(ValueError, match="clip_weights"):
        distill.clip_weights_(model, -1.0)


def test_make_distiller_needs_teacher_for_kd(tokenizer):
    spec = ArchSpec(1, 2, 32, 64, vocab_size=len(tokenizer), max_position_embeddings=64)
    with pytest.raises(ValueError, match="needs a teacher"):
        distill.make_distiller(distill.build_student(spec, tokenizer), None, objective="kd")
    with pytest.raises(ValueError, match="objective"):
        distill.make_distiller(distill.build_student(spec, tokenizer), None, objective="x")
