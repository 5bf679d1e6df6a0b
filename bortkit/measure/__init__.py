"""Measure: exact sizes and honest latency (CPU, or CUDA when asked) of any BERT-shaped model,
the comparison with the Bort papers' claims (`profile_presets(ProfileConfig(...))`,
`paper_comparison(report)`), and measured vs predicted cost over a search space
(`measure_costs(space, CostConfig(...))`, `cost_agreement(table)`).
"""

from __future__ import annotations

from bortkit.measure.cost import (
    CostAgreement,
    CostConfig,
    CostTable,
    cost_agreement,
    measure_costs,
)
from bortkit.measure.latency import (
    DEFAULT_PRESETS,
    ProfileConfig,
    build_model,
    measure_latencies,
    measure_latency,
    profile_presets,
)
from bortkit.measure.machine import env_fingerprint, measure_gemm_peak
from bortkit.measure.paper import PaperComparison, SizeRow, paper_comparison, size_rows
from bortkit.measure.records import (
    DEFAULT_REFERENCES,
    EnvFingerprint,
    GemmPeak,
    Latency,
    ProfileReport,
)

__all__ = [
    "CostAgreement",
    "CostConfig",
    "CostTable",
    "DEFAULT_PRESETS",
    "DEFAULT_REFERENCES",
    "EnvFingerprint",
    "GemmPeak",
    "Latency",
    "PaperComparison",
    "ProfileConfig",
    "ProfileReport",
    "SizeRow",
    "build_model",
    "cost_agreement",
    "env_fingerprint",
    "measure_costs",
    "measure_gemm_peak",
    "measure_latencies",
    "measure_latency",
    "paper_comparison",
    "profile_presets",
    "size_rows",
]
