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
restores the original sentence, a pool sentence that is also a dev sentence), so every proposal
equal to a dev (or selection) point is dropped and the invariant is asserted before points are
added.

Dev discipline (project choice, issue 15): θ's are scored and mistakes found on dev (dev-A);
with ``select=`` a separate slice (dev-B) scores each round's best model and chooses the final
round, so the choice is not made on the points the sampling was driven by; test is never seen
here (the caller reads it once, for the returned model). Controls: ``config.source="random"``
samples around random initial-train points instead of mistakes, and ``match=`` makes it add as
many points per round as the mistake run did; `AgoraResult.round0_model` is plain fine-tuning on
the initial train set with the same budget per fit.

This module depends on numpy only (its records are in `bortkit.agora.records`, its point helpers
in `bortkit.agora.points`); the learner/sampler/labeller bring their own dependencies.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from bortkit.agora.points import (
    Added,
    Points,
    concat,
    jsonable,
    n_points,
    point_key,
    random_chunks,
    sample_around,
    take,
)
from bortkit.agora.records import PRUNE_RULES, AgoraConfig, AgoraResult, AgoraRound
from bortkit.agora.resume import AgoraStart, Checkpoint

logger = logging.getLogger(__name__)

LABELLER_MIN_ACCURACY = 2.0 / 3.0  # blog [S6]: the labeller needs accuracy > 2/3


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
@dataclass
class _Best:
    """The round chosen so far: its key (selection accuracy, dev accuracy, -round), round, θ,
    dev accuracy and fitted model (None when the round was replayed from a checkpoint)."""

    key: tuple[float, float, int] = (-1.0, -1.0, 1)
    round: int = -1
    theta: str = ""
    dev_accuracy: float = -1.0
    select_accuracy: float | None = None
    model: Any = None

    def offer(self, rnd: AgoraRound, model: Any) -> None:
        # project choice (dev discipline): with a selection slice the final round is chosen on
        # it, not on the dev set whose mistakes drove the sampling; ties → higher dev accuracy,
        # then the earlier round (fewer added points).
        first = rnd.select_accuracy if rnd.select_accuracy is not None else rnd.best_dev_accuracy
        key = (first, rnd.best_dev_accuracy, -rnd.index)
        if key > self.key:
            self.key, self.round, self.theta = key, rnd.index, rnd.best_theta
            self.dev_accuracy, self.select_accuracy = rnd.best_dev_accuracy, rnd.select_accuracy
            self.model = model


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
    select: tuple[Points, np.ndarray] | None = None,
    match: Sequence[int] | None = None,
) -> AgoraResult:
    """Run Agora and return every round plus the model chosen at the end.

    Args:
        learner: fits one model per θ (`Learner`).
        train: (points, labels) the models are fine-tuned on; grows each round.
        dev: (points, gold labels), used to score θ's and find mistakes (dev-A); never added to
            train.
        thetas: Θ, the hyperparameter sets (any objects; named by `theta_label`).
        sampler: the data-generating function g (`Sampler`). Optional attributes it may set
            after each `sample` call, recorded per round: `last_kinds_` (one sampler name per
            returned point), `last_proposals_` ({name: proposals made}).
        labeller: labels new points (`Labeller`); its accuracy on dev and on each round's dev
            mistakes is measured and recorded.
        config: `AgoraConfig` (defaults if None); `config.source` picks mistakes or random
            train points as the points to sample around.
        seed: seeds the learner fits and the sampler; equal seeds give equal rounds.
        progress: show a tqdm bar over rounds.
        checkpoint_dir: write each finished round there (`bortkit.agora.resume`); a rerun with
            the same inputs continues after the last finished round. Models of replayed rounds
            that the result needs (the chosen round's, round 0's) are refitted (their θ on that
            round's train set, same seed).
        select: (points, gold labels), the selection slice (dev-B): each round's best model is
            scored on it and the final round is chosen on it; never sampled around or added.
            None: the final round is chosen on dev (the first build's behaviour).
        match: with ``config.source == "random"``, the number of points to add in each round
            (e.g. the mistake run's `AgoraResult.added_per_round`): the control then draws
            random train points as sources until exactly that many are accepted (fewer only if
            the whole train set runs out).

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
    if n_points(train_x) != len(train_y) or n_points(dev_x) != len(dev_y):
        raise ValueError("train and dev must be (points, labels) of equal lengths")
    if n_points(dev_x) == 0:
        raise ValueError("dev must not be empty: Agora scores θ's and finds mistakes on it")
    sel_x, sel_y = (None, None) if select is None else (select[0], np.asarray(select[1], int))
    if select is not None and (n_points(sel_x) != len(sel_y) or n_points(sel_x) == 0):
        raise ValueError("select must be non-empty (points, labels) of equal lengths")
    if match is not None and config.source != "random":
        raise ValueError("match (points per round to add) is for the random-source control: "
                         f"config.source is {config.source!r}")
    # Dev-A and dev-B points are never copied into train (nor are proposals equal to them).
    heldpoint_keys = {point_key(dev_x[i]) for i in range(n_points(dev_x))}
    if sel_x is not None:
        heldpoint_keys |= {point_key(sel_x[i]) for i in range(n_points(sel_x))}
    n_train0 = n_points(train_x)
    train0 = (train_x, train_y)

    ckpt = None if checkpoint_dir is None else Checkpoint(checkpoint_dir)
    start = AgoraStart(config, tuple(names), int(seed), n_train0, tuple(int(v) for v in dev_y),
                       0.0)
    recorded, replay = ckpt.start(start) if ckpt is not None else (None, [])
    # paper (c): the labeller only needs accuracy > 2/3; measure it on dev and say so.
    lab_pred = np.asarray(labeller.label(dev_x)[0], dtype=int)
    lab_acc = float(np.mean(lab_pred == dev_y))
    if recorded is not None:
        lab_acc = recorded.labeller_dev_accuracy  # measured before the recorded rounds
    elif ckpt is not None:
        ckpt.begin(start.replace(labeller_dev_accuracy=lab_acc))
    if lab_acc <= LABELLER_MIN_ACCURACY:
        msg = f"labeller dev accuracy {lab_acc:.3f} <= 2/3: Agora's guarantee assumes > 2/3"
        logger.warning(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)

    remaining = list(names)
    rounds: list[AgoraRound] = []
    past_mistakes: list[np.ndarray] = []
    best, round0 = _Best(), _Best()
    bar = _progress(config.max_rounds or len(names), progress)
    r = 0
    for rnd in replay:  # rounds finished by an earlier, interrupted run: their effects only
        if list(rnd.thetas) != remaining:
            logger.warning("redoing Agora from round %d: its recorded Θ does not follow", r)
            ckpt.drop_from(r)  # type: ignore[union-attr]
            break
        if n_points(rnd.new_points):
            train_x = concat(train_x, list(rnd.new_points))
            train_y = np.concatenate([train_y, np.asarray(rnd.new_labels, dtype=int)])
        past_mistakes.append(np.asarray(rnd.mistakes, dtype=int))
        best.offer(rnd, None)
        if r == 0:
            round0.offer(rnd, None)
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
        sel_acc = None
        if sel_x is not None:  # dev-B: scored here, used only to choose the final round
            sel_acc = float(np.mean(np.asarray(learner.predict(fitted, sel_x)[0]) == sel_y))
        # paper (c), step 3: dev mistakes of the best model.
        mistakes = np.flatnonzero(pred != dev_y)
        # paper (c), step 6 (done now so we know whether this is the last round).
        pruned = prune_thetas(remaining, accs, config.prune)
        left = [n for n in remaining if n not in pruned]
        last = not left or (config.max_rounds is not None and r + 1 >= config.max_rounds)

        added = Added.empty(dev_x)
        if not last or config.augment_last:
            # project choice (replay): redo the sampling steps of the last `replay` rounds, i.e.
            # sample again around their mistakes (fresh randomness) with this round's.
            pool = np.unique(np.concatenate([mistakes, *past_mistakes[-config.replay:]]
                                            if config.replay else [mistakes])).astype(int)
            if config.max_mistakes is not None and len(pool) > config.max_mistakes:
                pick = np.random.default_rng([seed, r, 1]).choice(
                    len(pool), config.max_mistakes, replace=False)
                pool = np.sort(pool[pick])
            # paper (c), step 4: new points near each mistake, inside the similarity band (or,
            # for the control, near random train points).
            if config.source == "mistakes":
                added = sample_around(sampler, dev_x, [pool], config, seed, r)
            else:
                target = None if match is None else int(match[r]) if r < len(match) else 0
                added = sample_around(sampler, train0[0], random_chunks(
                    n_train0, len(pool) or (target or 0), seed, r, target is not None),
                    config, seed, r, target=target)
            added = added.without(heldpoint_keys, r)
            if n_points(added.x):
                # paper (c), step 5: label with the trained labeller, not with dev gold.
                labels, conf = labeller.label(added.x)
                added.labels = np.asarray(labels, dtype=int)
                added.conf = np.asarray(conf, dtype=float)
                train_x = concat(train_x, added.x)
                train_y = np.concatenate([train_y, added.labels])
        past_mistakes.append(mistakes)
        rounds.append(AgoraRound(
            index=r, thetas=tuple(remaining), dev_accuracy=tuple(accs), best_theta=best_name,
            best_dev_accuracy=accs[ib], mistakes=tuple(int(i) for i in mistakes),
            dev_predictions=tuple(int(p) for p in pred),
            new_points=tuple(jsonable(added.x[i]) for i in range(n_points(added.x))),
            new_sources=tuple(int(s) for s in added.src),
            new_labels=tuple(int(v) for v in added.labels),
            new_confidence=tuple(float(c) for c in added.conf), train_size=n_points(train_x),
            pruned=tuple(pruned), source_kind=config.source,
            sources=tuple(int(s) for s in added.sources), new_kinds=tuple(added.kinds),
            proposals=tuple(added.proposals.items()),
            labeller_mistake_accuracy=(float(np.mean(lab_pred[mistakes] == dev_y[mistakes]))
                                       if len(mistakes) else None),
            select_accuracy=sel_acc))
        best.offer(rounds[-1], fitted)
        if r == 0:
            round0.offer(rounds[-1], fitted)
        if ckpt is not None:
            ckpt.save(rounds[-1])
        logger.info("round %d: |Θ|=%d best=%s dev acc %.4f, %d mistakes, +%d points",
                    r, len(remaining), best_name, accs[ib], len(mistakes), n_points(added.x))
        bar.update(1)
        # paper (c), step 7: stop when Θ is empty (or at the round cap: project choice).
        remaining = left
        r += 1
        if last:
            break
    bar.close()
    for chosen in (best, round0):  # a replayed round's model: refit it
        if chosen.round >= 0 and chosen.model is None:
            size = n_train0 if chosen.round == 0 else rounds[chosen.round - 1].train_size
            logger.info("refitting round %d's model (θ %s) after resuming", chosen.round,
                        chosen.theta)
            chosen.model = (best.model if chosen is round0 and best.round == 0 else
                            learner.fit(take(train_x, list(range(size))), train_y[:size],
                                        by_name[chosen.theta], seed=seed))
    return AgoraResult(rounds=tuple(rounds), config=config, best_theta=best.theta,
                       best_round=best.round, best_dev_accuracy=best.dev_accuracy,
                       labeller_dev_accuracy=lab_acc, dev_labels=tuple(int(v) for v in dev_y),
                       initial_train_size=n_train0, seed=seed,
                       select_labels=() if sel_y is None else tuple(int(v) for v in sel_y),
                       best_select_accuracy=best.select_accuracy, best_model=best.model,
                       round0_model=round0.model)


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
