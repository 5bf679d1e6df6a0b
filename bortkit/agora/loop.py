"""Agora: augment the training set around the best model's dev mistakes, prune Θ, repeat.

Paper (c) (arXiv 2010.07990) gives the loop only in words (see the team's
``reference/bort-papers.md`` §5.2); this module is the project's reconstruction. Each step
below is tagged ``# paper (c), step N`` when its order/meaning is sourced (blog [S6]) and
``# project choice`` when the papers leave it open; every project choice is a parameter of
`AgoraConfig` or of the pluggable parts:

* `Learner` — fits one model per θ and predicts (torus: `bortkit.agora.torus`; text:
  `bortkit.agora.learners`, wrapping `bortkit.finetune.engine`).
* `Sampler` — the data-generating function g: new points "near" a dev mistake, "similar, but
  neither too similar nor too different", made concrete as an acceptance band on cosine
  similarity in a representation space (text: `bortkit.agora.samplers`).
* `Labeller` — the second, trained model with "loose accuracy constraints" (> 2/3) (text:
  `bortkit.agora.labellers`).

The loop never copies a dev point into train: samplers may propose one by accident (a refill that
restores the original sentence), so every proposal equal to a dev point is dropped and the
invariant is asserted before points are added.

This module depends on numpy only (its records are in `bortkit.agora.records`); the
learner/sampler/labeller bring their own dependencies.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from bortkit.agora.records import PRUNE_RULES, AgoraConfig, AgoraResult, AgoraRound
from bortkit.agora.resume import AgoraStart, Checkpoint

logger = logging.getLogger(__name__)

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
    checkpoint_dir: str | os.PathLike[str] | None = None,
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
        checkpoint_dir: write each finished round there (`bortkit.agora.resume`); a rerun with
            the same inputs continues after the last finished round. If the best model came from
            a replayed round it is refitted (its θ on that round's train set, same seed).

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

    ckpt = None if checkpoint_dir is None else Checkpoint(checkpoint_dir)
    start = AgoraStart(config, tuple(names), int(seed), n_train0, tuple(int(v) for v in dev_y),
                       0.0)
    recorded, replay = ckpt.start(start) if ckpt is not None else (None, [])
    if recorded is not None:
        lab_acc = recorded.labeller_dev_accuracy  # measured before the recorded rounds
    else:
        # paper (c): the labeller only needs accuracy > 2/3; measure it on dev and say so.
        lab_pred, _ = labeller.label(dev_x)
        lab_acc = float(np.mean(np.asarray(lab_pred) == dev_y))
        if ckpt is not None:
            ckpt.begin(start.replace(labeller_dev_accuracy=lab_acc))
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
    for rnd in replay:  # rounds finished by an earlier, interrupted run: their effects only
        if list(rnd.thetas) != remaining:
            logger.warning("redoing Agora from round %d: its recorded Θ does not follow", r)
            ckpt.drop_from(r)  # type: ignore[union-attr]
            break
        if _n(rnd.new_points):
            train_x = _concat(train_x, list(rnd.new_points))
            train_y = np.concatenate([train_y, np.asarray(rnd.new_labels, dtype=int)])
        past_mistakes.append(np.asarray(rnd.mistakes, dtype=int))
        if rnd.best_dev_accuracy > best[0]:
            best = (rnd.best_dev_accuracy, r, rnd.best_theta, None)
        rounds.append(rnd)
        remaining = [n for n in remaining if n not in rnd.pruned]
        bar.update(1)
        r += 1
    while remaining and (config.max_rounds is None or r < config.max_rounds):
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
        if ckpt is not None:
            ckpt.save(rounds[-1])
        logger.info("round %d: |Θ|=%d best=%s dev acc %.4f, %d mistakes, +%d points",
                    r, len(remaining), best_name, accs[ib], len(mistakes), _n(new_x))
        bar.update(1)
        # paper (c), step 7: stop when Θ is empty (or at the round cap: project choice).
        remaining = left
        r += 1
        if last:
            break
    bar.close()
    if best[1] >= 0 and best[3] is None:  # the best round was replayed: refit its model
        size = n_train0 if best[1] == 0 else rounds[best[1] - 1].train_size
        logger.info("refitting the best model (round %d, θ %s) after resuming", best[1], best[2])
        best = (*best[:3], learner.fit(_take(train_x, list(range(size))), train_y[:size],
                                       by_name[best[2]], seed=seed))
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
    "Labeller",
    "Learner",
    "Sampler",
    "augment",
    "bound",
    "prune_thetas",
    "theta_label",
]
