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
#: Where a round's new points are sampled around: the best θ's dev mistakes (Agora), or random
#: points of the initial (gold) train set (the control of issue 15: same sampler, labeller and
#: number of points, but not driven by mistakes).
SOURCES = ("mistakes", "random")


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
        source: "mistakes" (Agora: sample around the best θ's dev mistakes) or "random" (the
            control: sample around as many random points of the initial train set; pass the
            mistake run's counts as `augment(..., match=...)` to add exactly as many points).
    """

    max_rounds: int | None = None
    samples_per_mistake: int = 4
    band: tuple[float, float] = (0.8, 0.98)
    prune: str = "half"
    replay: int = 0
    max_mistakes: int | None = None
    augment_last: bool = False
    source: str = "mistakes"

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
        check_choice("AgoraConfig.source", self.source, SOURCES)

    @classmethod
    def smoke(cls, **changes: Any) -> AgoraConfig:
        """Tiny rounds for tests and notebook smoke runs: 2 samples around at most 8 mistakes."""
        return cls(**{"samples_per_mistake": 2, "max_mistakes": 8, **changes})


@dataclass(frozen=True)
class AgoraRound(Record):
    """One round: the Θ it started with, its accuracies, mistakes and the points it added.

    `new_points` are JSON-able copies (texts, or coordinate tuples); `new_sources` index the dev
    set (``source="mistakes"``) or the initial train set (``source="random"``: `source_kind`);
    `new_labels`/`new_confidence` come from the labeller, never from dev gold labels.
    `sources` are the points sampled around (same index space), `new_kinds` name the sampler
    that made each new point ("mask-refill", "pool", ...) and `proposals` how many proposals
    each sampler made, so accepted proposals per source are `accepted_per_source()`.
    `labeller_mistake_accuracy` is the labeller's accuracy on this round's dev mistakes (where
    Agora uses it); `select_accuracy` the best θ's accuracy on the selection slice (dev-B) that
    chooses the final round, None without one.
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
    source_kind: str = "mistakes"
    sources: tuple[int, ...] = ()
    new_kinds: tuple[str, ...] = ()
    proposals: tuple[tuple[str, int], ...] = ()
    labeller_mistake_accuracy: float | None = None
    select_accuracy: float | None = None

    def __post_init__(self) -> None:
        # A coordinate point read back from JSON is a list; keep the tuple the loop recorded.
        object.__setattr__(self, "new_points", tuple(
            tuple(p) if isinstance(p, list) else p for p in self.new_points))
        object.__setattr__(self, "proposals", tuple(
            (str(k), int(n)) for k, n in self.proposals))

    @property
    def n_new(self) -> int:
        return len(self.new_points)

    def accepted_per_source(self) -> dict[str, float]:
        """Accepted new points per source point, by sampler kind ("all" = every sampler)."""
        n = max(1, len(self.sources))
        kinds = self.new_kinds or ("sampler",) * self.n_new
        out = {k: sum(1 for v in kinds if v == k) / n for k in dict.fromkeys(
            [k for k, _ in self.proposals] + list(kinds))}
        out["all"] = self.n_new / n
        return out

    def acceptance_rate(self) -> dict[str, float]:
        """Accepted / proposed, by sampler kind (only kinds that reported proposals)."""
        kinds = self.new_kinds or ("sampler",) * self.n_new
        return {k: sum(1 for v in kinds if v == k) / n for k, n in self.proposals if n}


@dataclass(frozen=True)
class AgoraResult(Record):
    """The whole run; everything but the two live models round-trips.

    `best_model` is the fitted model of the round chosen at the end: the best θ of each round is
    scored on the selection slice (dev-B, `select_labels`) and the best of them wins (ties: the
    higher dev-A accuracy, then the earlier round); without a selection slice, the best dev
    accuracy of any round. `round0_model` is round 0's best θ fitted on the initial train set:
    plain fine-tuning on gold only, with the same budget per fit (the "no Agora" baseline).
    Neither is written by `to_dict`/`save` (a fitted model is not data): loading gives None.
    """

    rounds: tuple[AgoraRound, ...]
    config: AgoraConfig
    best_theta: str
    best_round: int
    best_dev_accuracy: float
    labeller_dev_accuracy: float
    dev_labels: tuple[int, ...]
    initial_train_size: int
    seed: int
    select_labels: tuple[int, ...] = ()
    best_select_accuracy: float | None = None
    best_model: Any = field(default=None, compare=False, repr=False)
    round0_model: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        # The fields the idiom cannot write: a fitted model is not data. Loading gives None.
        data = super().to_dict()
        del data["best_model"], data["round0_model"]
        return data

    @property
    def added_per_round(self) -> tuple[int, ...]:
        """New points added per round (what a control run matches: `augment(match=...)`)."""
        return tuple(r.n_new for r in self.rounds)

    @property
    def accuracies(self) -> list[float]:
        """Best dev accuracy per round (the accuracy-per-round curve)."""
        return [r.best_dev_accuracy for r in self.rounds]

    def to_frame(self) -> Any:
        """One row per round (pandas)."""
        import pandas as pd

        return pd.DataFrame([{"round": r.index, "n_theta": len(r.thetas),
                              "best_theta": r.best_theta, "dev_accuracy": r.best_dev_accuracy,
                              "select_accuracy": r.select_accuracy,
                              "n_mistakes": len(r.mistakes), "n_sources": len(r.sources),
                              "n_new": r.n_new,
                              **{f"accepted_per_source[{k}]": round(v, 3)
                                 for k, v in r.accepted_per_source().items()},
                              "labeller_on_mistakes": r.labeller_mistake_accuracy,
                              "train_size": r.train_size} for r in self.rounds])


__all__ = [
    "PRUNE_RULES",
    "SOURCES",
    "AgoraConfig",
    "AgoraResult",
    "AgoraRound",
]
