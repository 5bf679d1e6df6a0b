"""The records of an Agora run: its settings (`AgoraConfig`), one `AgoraRound` per round, and the
`AgoraResult` of the whole run (what `bortkit.agora.loop.augment` returns and the viewer draws).

numpy and `bortkit.records` only, like the loop itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bortkit.records import (
    Record,
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
)

PRUNE_RULES = ("half", "longest-run")


@dataclass(frozen=True)
class AgoraConfig(Record):
    """Every project choice of the loop, validated on construction.

    Attributes:
        max_rounds: cap on rounds; None runs until Θ is empty (paper (c): stop when Θ empty).
        samples_per_mistake: proposals accepted per dev mistake (UNKNOWN in the paper).
        band: (low, high) accepted cosine similarity to the source, inside [-1, 1], low <= high.
        prune: "half" drops the worst ⌊|Θ|/2⌋ (at least one) θ's per round (default);
            "longest-run" drops the maximal run of equal-worst accuracy (a reading of the blog's
            "longest common sequence rooted at the first element").
        replay: also re-sample around the mistakes of the last `replay` rounds (0 = off).
        max_mistakes: sample around at most this many mistakes per round (seeded choice), to
            bound the cost; None = all.
        augment_last: also sample/label in the final round, whose points no model trains on
            (False saves labeller time; True shows them in the viewer).
    """

    max_rounds: int | None = None
    samples_per_mistake: int = 4
    band: tuple[float, float] = (0.8, 0.98)
    prune: str = "half"
    replay: int = 0
    max_mistakes: int | None = None
    augment_last: bool = False

    def __post_init__(self) -> None:
        if self.max_rounds is not None:
            check_positive_int("AgoraConfig.max_rounds", self.max_rounds)
        check_positive_int("AgoraConfig.samples_per_mistake", self.samples_per_mistake)
        band = tuple(self.band)
        if len(band) != 2 or not all(isinstance(b, (int, float)) and math.isfinite(b)
                                     for b in band):
            raise ValueError(f"band must be two finite floats (low, high), got {self.band!r}")
        lo, hi = float(band[0]), float(band[1])
        if not (-1.0 <= lo <= 1.0 and -1.0 <= hi <= 1.0):
            raise ValueError(f"band must lie inside [-1, 1], got {self.band!r}")
        if lo > hi:
            raise ValueError(f"band is inverted (low > high): {self.band!r}")
        object.__setattr__(self, "band", (lo, hi))
        check_choice("AgoraConfig.prune", self.prune, PRUNE_RULES)
        check_int("AgoraConfig.replay", self.replay, minimum=0)
        if self.max_mistakes is not None:
            check_positive_int("AgoraConfig.max_mistakes", self.max_mistakes)
        check_bool("AgoraConfig.augment_last", self.augment_last)

    @classmethod
    def smoke(cls, **changes: Any) -> AgoraConfig:
        """Tiny rounds for tests and notebook smoke runs: 2 samples around at most 8 mistakes."""
        return cls(**{"samples_per_mistake": 2, "max_mistakes": 8, **changes})


@dataclass(frozen=True)
class AgoraRound(Record):
    """One round: the Θ it started with, its accuracies, mistakes and the points it added.

    `new_points` are JSON-able copies (texts, or coordinate tuples); `new_sources` index the dev
    set; `new_labels`/`new_confidence` come from the labeller, never from dev gold labels.
    """

    index: int
    thetas: tuple[str, ...]
    dev_accuracy: tuple[float, ...]  # aligned with `thetas`
    best_theta: str
    best_dev_accuracy: float
    mistakes: tuple[int, ...]  # dev indices the best θ got wrong
    dev_predictions: tuple[int, ...]  # best θ's label for every dev point
    new_points: tuple[Any, ...]
    new_sources: tuple[int, ...]
    new_labels: tuple[int, ...]
    new_confidence: tuple[float, ...]
    train_size: int  # after this round's additions
    pruned: tuple[str, ...]  # θ's removed at the end of the round

    def __post_init__(self) -> None:
        # A coordinate point read back from JSON is a list; keep the tuple the loop recorded.
        object.__setattr__(self, "new_points", tuple(
            tuple(p) if isinstance(p, list) else p for p in self.new_points))

    @property
    def n_new(self) -> int:
        return len(self.new_points)


@dataclass(frozen=True)
class AgoraResult(Record):
    """The whole run. `best_model` is the fitted model with the best dev accuracy of any round
    (a live object: not written by `to_dict`/`save`); everything else round-trips."""

    rounds: tuple[AgoraRound, ...]
    config: AgoraConfig
    best_theta: str
    best_round: int
    best_dev_accuracy: float
    labeller_dev_accuracy: float
    dev_labels: tuple[int, ...]
    initial_train_size: int
    seed: int
    best_model: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        # The one field the idiom cannot write: a fitted model is not data. Loading gives None.
        data = super().to_dict()
        del data["best_model"]
        return data

    @property
    def accuracies(self) -> list[float]:
        """Best dev accuracy per round (the accuracy-per-round curve)."""
        return [r.best_dev_accuracy for r in self.rounds]

    def to_frame(self) -> Any:
        """One row per round (pandas)."""
        import pandas as pd

        return pd.DataFrame([{"round": r.index, "n_theta": len(r.thetas),
                              "best_theta": r.best_theta, "dev_accuracy": r.best_dev_accuracy,
                              "n_mistakes": len(r.mistakes), "n_new": r.n_new,
                              "train_size": r.train_size} for r in self.rounds])


__all__ = [
    "PRUNE_RULES",
    "AgoraConfig",
    "AgoraResult",
    "AgoraRound",
]
