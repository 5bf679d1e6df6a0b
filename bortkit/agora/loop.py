"""Agora: augment the training set around the best model's dev mistakes, prune Θ, repeat.

Paper (c) (arXiv 2010.07990) gives the loop only in words (see the team's
``reference/bort-papers.md`` §5.2); this module is the project's reconstruction. Each step
below is tagged ``# paper (c), step N`` when its order/meaning is sourced (blog [S6]) and
``# project choice`` when the papers leave it open; every project choice is a parameter of
`AgoraConfig` or of the pluggable parts:

* `Learner` — fits one model per θ and predicts (torus: `bortkit.agora.torus`; text:
  `bortkit.agora.text`, wrapping `bortkit.finetune.engine`).
* `Sampler` — the data-generating function g: new points "near" a dev mistake, "similar, but
  neither too similar nor too different", made concrete as an acceptance band on cosine
  similarity in a representation space.
* `Labeller` — the second, trained model with "loose accuracy constraints" (> 2/3).

The loop never copies a dev point into train: samplers may propose one by accident (a refill that
restores the original sentence), so every proposal equal to a dev point is dropped and the
invariant is asserted before points are added.

This module depends on numpy only; the learner/sampler/labeller bring their own dependencies.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

PRUNE_RULES = ("half", "longest-run")
LABELLER_MIN_ACCURACY = 2.0 / 3.0  # blog [S6]: the labeller needs accuracy > 2/3

Points = Any  # np.ndarray (n, d) or a sequence of items (e.g. texts); see `_concat`/`_take`


# ----------------------------------------------------------------------------- protocols
@runtime_checkable
class Learner(Protocol):
    """What Agora fine-tunes once per θ: `fit` returns a fitted model, `predict` labels points."""

    def fit(self, x: Points, y: np.ndarray, theta: Any, *, seed: int) -> Any: ...

    def predict(self, fitted: Any, x: Points) -> tuple[np.ndarray, np.ndarray]:
        """Return (labels (n,), probs (n, n_classes))."""
        ...


@runtime_checkable
class Sampler(Protocol):
    """The data-generating function g of paper (c)."""

    def sample(
        self, sources: Points, *, n_per_source: int, band: tuple[float, float], seed: int
    ) -> tuple[Points, np.ndarray]:
        """Return (new points, index into `sources` of each new point's source).

        Up to `n_per_source` accepted points per source, each with cosine similarity to its
        source in ``[band[0], band[1]]`` in the sampler's representation space. May return fewer.
        """
        ...


@runtime_checkable
class Labeller(Protocol):
    """The trained model that labels new points (paper (c): accuracy > 2/3 suffices)."""

    def label(self, x: Points) -> tuple[np.ndarray, np.ndarray]:
        """Return (labels (n,), confidence (n,) = probability of the returned label)."""
        ...


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class AgoraConfig:
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
        if self.max_rounds is not None and (
            isinstance(self.max_rounds, bool) or int(self.max_rounds) != self.max_rounds
            or self.max_rounds < 1
        ):
            raise ValueError(f"max_rounds must be None or an int >= 1, got {self.max_rounds!r}")
        if isinstance(self.samples_per_mistake, bool) or not isinstance(
            self.samples_per_mistake, (int, np.integer)
        ) or self.samples_per_mistake < 1:
            raise ValueError(
                f"samples_per_mistake must be an int >= 1, got {self.samples_per_mistake!r}"
            )
        band = tuple(self.band)
        if len(band) != 2 or not all(np.isfinite(b) for b in band):
            raise ValueError(f"band must be two finite floats (low, high), got {self.band!r}")
        lo, hi = float(band[0]), float(band[1])
        if not (-1.0 <= lo <= 1.0 and -1.0 <= hi <= 1.0):
            raise ValueError(f"band must lie inside [-1, 1], got {self.band!r}")
        if lo > hi:
            raise ValueError(f"band is inverted (low > high): {self.band!r}")
        object.__setattr__(self, "band", (lo, hi))
        if self.prune not in PRUNE_RULES:
            raise ValueError(f"prune must be one of {PRUNE_RULES}, got {self.prune!r}")
        if isinstance(self.replay, bool) or not isinstance(self.replay, int) or self.replay < 0:
            raise ValueError(f"replay must be an int >= 0, got {self.replay!r}")
        if self.max_mistakes is not None and (
            not isinstance(self.max_mistakes, int) or self.max_mistakes < 1
        ):
            raise ValueError(
                f"max_mistakes must be None or an int >= 1, got {self.max_mistakes!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"max_rounds": self.max_rounds, "samples_per_mistake": self.samples_per_mistake,
                "band": list(self.band), "prune": self.prune, "replay": self.replay,
                "max_mistakes": self.max_mistakes, "augment_last": self.augment_last}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgoraConfig:
        return cls(**{**d, "band": tuple(d["band"])})


@dataclass(frozen=True)
class AgoraRound:
    """One round: the Θ it started with, its accuracies, mistakes and the points it added.

    `new_points` are JSON-able copies (texts, or coordinate lists); `new_sources` index the dev
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

    @property
    def n_new(self) -> int:
        return len(self.new_points)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgoraRound:
        tup = lambda v: tuple(tuple(x) if isinstance(x, list) else x for x in v)  # noqa: E731
        return cls(**{k: (tup(v) if isinstance(v, list) else v) for k, v in d.items()})


@dataclass(frozen=True)
class AgoraResult:
    """The whole run. `best_model` is the fitted model with the best dev accuracy of any round
    (not serialised); everything else round-trips through `to_dict`/`from_dict`."""

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

    @property
    def accuracies(self) -> list[float]:
        """Best dev accuracy per round (the accuracy-per-round curve)."""
        return [r.best_dev_accuracy for r in self.rounds]

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": [r.to_dict() for r in self.rounds], "config": self.config.to_dict(),
                "best_theta": self.best_theta, "best_round": self.best_round,
                "best_dev_accuracy": self.best_dev_accuracy,
                "labeller_dev_accuracy": self.labeller_dev_accuracy,
                "dev_labels": list(self.dev_labels),
                "initial_train_size": self.initial_train_size, "seed": self.seed}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgoraResult:
        return cls(rounds=tuple(AgoraRound.from_dict(r) for r in d["rounds"]),
                   config=AgoraConfig.from_dict(d["config"]), best_theta=d["best_theta"],
                   best_round=int(d["best_round"]),
                   best_dev_accuracy=float(d["best_dev_accuracy"]),
                   labeller_dev_accuracy=float(d["labeller_dev_accuracy"]),
                   dev_labels=tuple(d["dev_labels"]),
                   initial_train_size=int(d["initial_train_size"]), seed=int(d["seed"]))

    def to_frame(self) -> Any:
        """One row per round (pandas)."""
        import pandas as pd

        return pd.DataFrame([{"round": r.index, "n_theta": len(r.thetas),
                              "best_theta": r.best_theta, "dev_accuracy": r.best_dev_accuracy,
                              "n_mistakes": len(r.mistakes), "n_new": r.n_new,
                              "train_size": r.train_size} for r in self.rounds])


# ----------------------------------------------------------------------------- helpers
def theta_label(theta: Any) -> str:
    """A stable string name for a θ (its `.label` if it has one)."""
    label = getattr(theta, "label", None)
    return str(label() if callable(label) else label) if label is not None else str(theta)


def _n(x: Points) -> int:
    return int(x.shape[0]) if isinstance(x, np.ndarray) else len(x)


def _take(x: Points, idx: Sequence[int] | np.ndarray) -> Points:
    if isinstance(x, np.ndarray):
        return x[np.asarray(idx, dtype=int)]
    return [x[int(i)] for i in idx]


def _concat(a: Points, b: Points) -> Points:
    if isinstance(a, np.ndarray):
        return np.concatenate([a, np.asarray(b, dtype=a.dtype).reshape(-1, *a.shape[1:])])
    return list(a) + list(b)


def _key(item: Any) -> Any:
    """Hashable identity of one point, for the "never a dev point" check."""
    if isinstance(item, np.ndarray):
        return ("arr", item.dtype.str, item.tobytes())
    return ("obj", item)


def _jsonable(item: Any) -> Any:
    if isinstance(item, np.ndarray):
        return tuple(float(v) for v in item.ravel())
    return item


def prune_thetas(thetas: Sequence[str], accuracy: Sequence[float], rule: str) -> list[str]:
    """The θ labels to remove this round (worst first); always at least one.

    Args:
        thetas: θ labels.
        accuracy: dev accuracy per θ (aligned).
        rule: "half" (drop ⌊n/2⌋, at least 1) or "longest-run" (drop every θ tied with the worst).
    """
    if rule not in PRUNE_RULES:
        raise ValueError(f"prune must be one of {PRUNE_RULES}, got {rule!r}")
    # paper (c), step 6: sort Θ by accuracy, ascending; stable so ties keep Θ's order.
    order = sorted(range(len(thetas)), key=lambda i: accuracy[i])
    if rule == "half":
        # project choice: halving gives ⌈log2|Θ|⌉+1 rounds, in the spirit of the 2(1-2^-|Θ|)
        # bound's per-round halving.
        n_drop = max(1, len(thetas) // 2)
    else:
        # paper (c) reading: "the longest common sequence rooted at the first element" = the
        # maximal run of equal (worst) accuracy starting from the worst θ.
        worst = accuracy[order[0]]
        n_drop = sum(1 for i in order if accuracy[i] == worst)
    return [thetas[i] for i in order[:n_drop]]


# ----------------------------------------------------------------------------- the loop
def augment(
    learner: Learner,
    train: tuple[Points, np.ndarray],
    dev: tuple[Points, np.ndarray],
    thetas: Sequence[Any],
    *,
    sampler: Sampler,
    labeller: Labeller,
    config: AgoraConfig | None = None,
    seed: int = 0,
    progress: bool = True,
) -> AgoraResult:
    """Run Agora and return every round plus the best model found.

    Args:
        learner: fits one model per θ (`Learner`).
        train: (points, labels) the models are fine-tuned on; grows each round.
        dev: (points, gold labels), used to score θ's and find mistakes; never added to train.
        thetas: Θ, the hyperparameter sets (any objects; named by `theta_label`).
        sampler: the data-generating function g (`Sampler`).
        labeller: labels new points (`Labeller`); its dev accuracy is measured and reported.
        config: `AgoraConfig` (defaults if None).
        seed: seeds the learner fits and the sampler; equal seeds give equal rounds.
        progress: show a tqdm bar over rounds.

    Returns:
        AgoraResult with one `AgoraRound` per round.
    """
    config = config or AgoraConfig()
    thetas = list(thetas)
    if not thetas:
        raise ValueError("thetas (Θ) must not be empty")
    names = [theta_label(t) for t in thetas]
    if len(set(names)) != len(names):
        raise ValueError(f"thetas must have distinct labels, got {names!r}")
    by_name = dict(zip(names, thetas))
    train_x, train_y = train[0], np.asarray(train[1], dtype=int)
    dev_x, dev_y = dev[0], np.asarray(dev[1], dtype=int)
    if _n(train_x) != len(train_y) or _n(dev_x) != len(dev_y):
        raise ValueError("train and dev must be (points, labels) of equal lengths")
    if _n(dev_x) == 0:
        raise ValueError("dev must not be empty: Agora scores θ's and finds mistakes on it")
    dev_keys = {_key(dev_x[i]) for i in range(_n(dev_x))}
    n_train0 = _n(train_x)

    # paper (c): the labeller only needs accuracy > 2/3; measure it on dev and say so.
    lab_pred, _ = labeller.label(dev_x)
    lab_acc = float(np.mean(np.asarray(lab_pred) == dev_y))
    if lab_acc <= LABELLER_MIN_ACCURACY:
        msg = f"labeller dev accuracy {lab_acc:.3f} <= 2/3: Agora's guarantee assumes > 2/3"
        logger.warning(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)

    remaining = list(names)
    rounds: list[AgoraRound] = []
    past_mistakes: list[np.ndarray] = []
    best: tuple[float, int, str, Any] = (-1.0, -1, "", None)
    bar = _progress(config.max_rounds or len(names), progress)
    r = 0
    while remaining:
        # paper (c), step 1: fine-tune a fresh model per θ on the current train set.
        accs, fitted_by = [], {}
        for name in remaining:
            fitted = learner.fit(train_x, train_y, by_name[name], seed=seed)
            pred, _ = learner.predict(fitted, dev_x)
            accs.append(float(np.mean(np.asarray(pred) == dev_y)))
            fitted_by[name] = (fitted, np.asarray(pred, dtype=int))
        # paper (c), step 2: the best θ (ties: first in Θ order) and its dev predictions.
        ib = int(np.argmax(accs))
        best_name = remaining[ib]
        fitted, pred = fitted_by.pop(best_name)
        del fitted_by  # free the other models before sampling (text models are large)
        if accs[ib] > best[0]:  # project choice: return the best model of any round
            best = (accs[ib], r, best_name, fitted)
        # paper (c), step 3: dev mistakes of the best model.
        mistakes = np.flatnonzero(pred != dev_y)
        # paper (c), step 6 (done now so we know whether this is the last round).
        pruned = prune_thetas(remaining, accs, config.prune)
        left = [n for n in remaining if n not in pruned]
        last = not left or (config.max_rounds is not None and r + 1 >= config.max_rounds)

        new_x: Points = _take(dev_x, [])
        src = np.zeros(0, dtype=int)
        labels = np.zeros(0, dtype=int)
        conf = np.zeros(0, dtype=float)
        if not last or config.augment_last:
            # project choice (replay): redo the sampling steps of the last `replay` rounds, i.e.
            # sample again around their mistakes (fresh randomness) with this round's.
            pool = np.unique(np.concatenate([mistakes, *past_mistakes[-config.replay:]]
                                            if config.replay else [mistakes])).astype(int)
            if config.max_mistakes is not None and len(pool) > config.max_mistakes:
                pick = np.random.default_rng([seed, r, 1]).choice(
                    len(pool), config.max_mistakes, replace=False)
                pool = np.sort(pool[pick])
            if len(pool):
                # paper (c), step 4: new points near each mistake, inside the similarity band.
                new_x, src_local = sampler.sample(
                    _take(dev_x, pool), n_per_source=config.samples_per_mistake,
                    band=config.band, seed=_derive_seed(seed, r))
                src = pool[np.asarray(src_local, dtype=int)]
                # dev points are never copied into train: drop any proposal equal to one.
                keep = [i for i in range(_n(new_x)) if _key(new_x[i]) not in dev_keys]
                if len(keep) < _n(new_x):
                    logger.info("round %d: dropped %d proposals equal to dev points",
                                r, _n(new_x) - len(keep))
                new_x, src = _take(new_x, keep), src[keep]
                assert not any(_key(new_x[i]) in dev_keys for i in range(_n(new_x)))
            if _n(new_x):
                # paper (c), step 5: label with the trained labeller, not with dev gold.
                labels, conf = labeller.label(new_x)
                labels = np.asarray(labels, dtype=int)
                conf = np.asarray(conf, dtype=float)
                train_x = _concat(train_x, new_x)
                train_y = np.concatenate([train_y, labels])
        past_mistakes.append(mistakes)
        rounds.append(AgoraRound(
            index=r, thetas=tuple(remaining), dev_accuracy=tuple(accs), best_theta=best_name,
            best_dev_accuracy=accs[ib], mistakes=tuple(int(i) for i in mistakes),
            dev_predictions=tuple(int(p) for p in pred),
            new_points=tuple(_jsonable(new_x[i]) for i in range(_n(new_x))),
            new_sources=tuple(int(s) for s in src), new_labels=tuple(int(v) for v in labels),
            new_confidence=tuple(float(c) for c in conf), train_size=_n(train_x),
            pruned=tuple(pruned)))
        logger.info("round %d: |Θ|=%d best=%s dev acc %.4f, %d mistakes, +%d points",
                    r, len(remaining), best_name, accs[ib], len(mistakes), _n(new_x))
        bar.update(1)
        # paper (c), step 7: stop when Θ is empty (or at the round cap: project choice).
        remaining = left
        r += 1
        if last:
            break
    bar.close()
    return AgoraResult(rounds=tuple(rounds), config=config, best_theta=best[2],
                       best_round=best[1], best_dev_accuracy=best[0],
                       labeller_dev_accuracy=lab_acc, dev_labels=tuple(int(v) for v in dev_y),
                       initial_train_size=n_train0, seed=seed, best_model=best[3])


def _derive_seed(seed: int, r: int) -> int:
    """The sampler's seed for round `r`: distinct per round, fixed by the run seed."""
    return int(np.random.SeedSequence([seed, r]).generate_state(1)[0] % 2**31)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="agora rounds", disable=not enabled)


def bound(n_thetas: int) -> float:
    """Paper (c)'s quality bound: Agora is up to 2(1 − 2^{−|Θ|}) times better than best-of-Θ."""
    if n_thetas < 1:
        raise ValueError(f"n_thetas must be >= 1, got {n_thetas!r}")
    return 2.0 * (1.0 - 2.0 ** (-n_thetas))


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
