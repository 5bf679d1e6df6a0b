"""Stage 4, Agora: fine-tune per θ, find dev mistakes, sample near them, label, add, prune,
repeat. `loop` + `records` need numpy only; `torus` is the toy; `learners`, `samplers` and
`labellers` are the text parts (torch, lazily), `experiment` assembles them (`run_agora`).
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
from bortkit.agora.records import PRUNE_RULES, AgoraConfig, AgoraResult, AgoraRound

__all__ = [
    "LABELLER_MIN_ACCURACY",
    "PRUNE_RULES",
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
