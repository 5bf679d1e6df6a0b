"""Profiling: exact sizes and honest CPU/GPU latency of any BERT-shaped model, and the
comparison with the Bort paper's claims.
"""

from __future__ import annotations

from bortkit.measure.latency import (
    Latency,
    ProfileReport,
    build_model,
    measure_latency,
    profile_presets,
)
from bortkit.measure.paper import PaperComparison, paper_comparison, size_rows

__all__ = [
    "Latency",
    "PaperComparison",
    "ProfileReport",
    "build_model",
    "measure_latency",
    "paper_comparison",
    "profile_presets",
    "size_rows",
]
