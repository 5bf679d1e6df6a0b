"""Stage 4, Agora: fine-tune per θ, find dev mistakes, sample near them, label, add, prune,
repeat. `loop`, `points` and `records` need numpy only; `torus` is the toy; `student`,
`learners`, `samplers`, `pool`, `labellers` and `splits` are the text parts (torch, lazily),
`experiment` assembles them (`run_agora`, with the random-source control) and `miniature` runs
"Bort in miniature" (teacher → KD student → Agora → test, with ablations).
"""

from __future__ import annotations

from bortkit.agora.loop import (
    LABELLER_MIN_ACCURACY,
    Labeller,
    Learner,
    Sampler,
    augment,
    bound,
    prune_thetas,
    theta_label,
)
from bortkit.agora.records import PRUNE_RULES, SOURCES, AgoraConfig, AgoraResult, AgoraRound

__all__ = [
    "LABELLER_MIN_ACCURACY",
    "PRUNE_RULES",
    "SOURCES",
    "AgoraConfig",
    "AgoraResult",
    "AgoraRound",
    "Labeller",
    "Learner",
    "Sampler",
    "augment",
    "bound",
    "prune_thetas",
    "theta_label",
]
