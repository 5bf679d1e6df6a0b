"""Stage 4, Agora: fine-tune per θ, find dev mistakes, sample near them, label, add, prune, repeat.
The loop needs numpy only; `agora.torus` is the toy; `agora.text` holds the text parts (torch).
"""

from __future__ import annotations

from bortkit.agora.loop import (
    AgoraConfig,
    AgoraResult,
    AgoraRound,
    Labeller,
    Learner,
    Sampler,
    augment,
    bound,
    prune_thetas,
)

__all__ = [
    "AgoraConfig",
    "AgoraResult",
    "AgoraRound",
    "Labeller",
    "Learner",
    "Sampler",
    "augment",
    "bound",
    "prune_thetas",
]
