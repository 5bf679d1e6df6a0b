"""Measure: exact sizes and honest CPU latency of any BERT-shaped model, and the comparison with
the Bort papers' claims (`profile_presets(ProfileConfig(...))`, `paper_comparison(report)`).
"""

from __future__ import annotations

from bortkit.measure.latency import (
    DEFAULT_PRESETS,
    ProfileConfig,
    build_model,
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
    "env_fingerprint",
    "measure_gemm_peak",
    "measure_latency",
    "paper_comparison",
    "profile_presets",
    "size_rows",
]
