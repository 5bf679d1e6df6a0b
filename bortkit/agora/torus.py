"""The torus toy: Agora's mechanism on 3-D points, in seconds, through the same `loop.augment`.

Project choices (the papers mention no toy that survives; see bort-papers.md §5.1):

* Data: points on a torus (major radius R, tube radius r) with angles (u, v) uniform; the class
  is ``sin(2u + v) > 0`` (two helical stripes that wind round the torus, balanced).
  The **training set covers only part of the torus** (u in [0, 2π·coverage)); the dev and test
  sets are uniform over all of it (**representative**), as the blog asks.
* Learner: scikit-learn k-nearest-neighbours; θ = (n_neighbors, weights). kNN fits instantly
  and fails plainly off its training support, which is exactly the regime Agora targets.
* Sampler: Gaussian in the torus chart (u' = u + N(0, σ²), v' = v + N(0, σ²)), so samples stay on
  the manifold; similarity is cosine in the flat-torus embedding (cos u, sin u, cos v, sin v),
  i.e. (cos Δu + cos Δv) / 2, and a proposal is accepted when it lies in the band.
* Labeller: "knn" (default) = a 5-NN trained on a larger uniform labelled sample (a "trained
  model with loose accuracy constraints"); "oracle" = the analytic rule with each label flipped
  with probability `noise` (accuracy ≈ 1 − noise, to probe the > 2/3 requirement).

`run_torus(TorusConfig(...), seed=...)` is the one call (`TorusConfig.smoke()` for tests); it
returns a `TorusRun` record. numpy and scikit-learn only, never torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bortkit.agora import loop
from bortkit.agora.records import AgoraConfig, AgoraResult
from bortkit.records import (
    Record,
    check_choice,
    check_float,
    check_int,
    check_positive,
    check_positive_int,
    check_probability,
)

TWO_PI = 2.0 * np.pi


def torus_points(u: np.ndarray, v: np.ndarray, *, R: float = 2.0, r: float = 0.8) -> np.ndarray:
    """3-D coordinates (n, 3) of the torus points with angles u (around the ring), v (the tube)."""
    rho = R + r * np.cos(v)
    return np.stack([rho * np.cos(u), rho * np.sin(u), r * np.sin(v)], axis=1)


def torus_angles(x: np.ndarray, *, R: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `torus_points` (angles in [0, 2π)) for points on, or near, the torus."""
    x = np.asarray(x, dtype=float)
    u = np.arctan2(x[:, 1], x[:, 0]) % TWO_PI
    v = np.arctan2(x[:, 2], np.hypot(x[:, 0], x[:, 1]) - R) % TWO_PI
    return u, v


def torus_label(x: np.ndarray, *, R: float = 2.0) -> np.ndarray:
    """The true class of each point: 1 where sin(2u + v) > 0."""
    u, v = torus_angles(x, R=R)
    return (np.sin(2.0 * u + v) > 0).astype(int)


@dataclass(frozen=True, eq=False)  # arrays have no truth value: equality is identity
class TorusData(Record):
    """Train (partial coverage), dev and test (uniform) splits; x arrays are (n, 3)."""

    train_x: np.ndarray
    train_y: np.ndarray
    dev_x: np.ndarray
    dev_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    coverage: float
    R: float = 2.0
    r: float = 0.8

    def __post_init__(self) -> None:
        # Arrays on the way in; JSON gives lists back, so `load` turns them into arrays again.
        for name in ("train_x", "dev_x", "test_x"):
            object.__setattr__(self, name,
                               np.asarray(getattr(self, name), dtype=float).reshape(-1, 3))
        for name in ("train_y", "dev_y", "test_y"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=int))


def make_torus(
    *, n_train: int = 200, n_dev: int = 200, n_test: int = 2000, coverage: float = 0.4,
    R: float = 2.0, r: float = 0.8, seed: int = 0,
) -> TorusData:
    """Sample the toy's splits. Train covers u in [0, 2π·coverage); dev/test cover everything."""
    for name, n in (("n_train", n_train), ("n_dev", n_dev), ("n_test", n_test)):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage!r}")
    if not 0.0 < r < R:
        raise ValueError(f"need 0 < r < R for a ring torus, got R={R!r}, r={r!r}")
    rng = np.random.default_rng(seed)

    def split(n: int, u_max: float) -> tuple[np.ndarray, np.ndarray]:
        x = torus_points(rng.uniform(0, u_max, n), rng.uniform(0, TWO_PI, n), R=R, r=r)
        return x, torus_label(x, R=R)

    tx, ty = split(n_train, TWO_PI * coverage)
    dx, dy = split(n_dev, TWO_PI)
    sx, sy = split(n_test, TWO_PI)
    return TorusData(tx, ty, dx, dy, sx, sy, coverage, R, r)


# ----------------------------------------------------------------------------- learner
@dataclass(frozen=True)
class KnnTheta(Record):
    """θ of the toy learner."""

    n_neighbors: int
    weights: str = "uniform"

    @property
    def label(self) -> str:
        return f"k={self.n_neighbors},{self.weights}"


def torus_thetas(n: int = 8) -> list[KnnTheta]:
    """The toy's Θ: n kNN settings from sharp (k=1) to smooth (k=61)."""
    ks = [1, 3, 5, 9, 15, 25, 41, 61]
    if not 1 <= n <= 2 * len(ks):
        raise ValueError(f"n must be in [1, {2 * len(ks)}], got {n!r}")
    grid = [KnnTheta(k, "uniform") for k in ks] + [KnnTheta(k, "distance") for k in ks]
    return grid[:n]


class KnnLearner:
    """`loop.Learner` over scikit-learn's KNeighborsClassifier (deterministic; seed unused)."""

    def fit(self, x: np.ndarray, y: np.ndarray, theta: KnnTheta, *, seed: int) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        k = min(theta.n_neighbors, len(y))
        return KNeighborsClassifier(n_neighbors=k, weights=theta.weights).fit(x, y)

    def predict(self, fitted: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = np.zeros((len(x), 2))
        p = fitted.predict_proba(x)
        probs[:, fitted.classes_] = p
        return probs.argmax(axis=1), probs


# ----------------------------------------------------------------------------- sampler
class TorusSampler:
    """Gaussian sampler in the torus chart with a cosine band in the flat-torus embedding.

    Args:
        sigma: standard deviation (radians) of the angle perturbation.
        max_tries: proposals drawn per wanted sample before giving up on a source.
    """

    def __init__(self, *, sigma: float = 0.35, R: float = 2.0, r: float = 0.8,
                 max_tries: int = 20) -> None:
        self.sigma, self.R, self.r, self.max_tries = sigma, R, r, max_tries

    def sample(self, sources: np.ndarray, *, n_per_source: int, band: tuple[float, float],
               seed: int) -> tuple[np.ndarray, np.ndarray]:
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")
        rng = np.random.default_rng(seed)
        u, v = torus_angles(sources, R=self.R)
        m = n_per_source * self.max_tries
        du = rng.normal(0.0, self.sigma, (len(u), m))
        dv = rng.normal(0.0, self.sigma, (len(u), m))
        sim = (np.cos(du) + np.cos(dv)) / 2.0  # cosine in the flat-torus embedding
        ok = (sim >= band[0]) & (sim <= band[1])
        xs, src = [], []
        for i in range(len(u)):
            j = np.flatnonzero(ok[i])[:n_per_source]
            if len(j):
                xs.append(torus_points(u[i] + du[i, j], v[i] + dv[i, j], R=self.R, r=self.r))
                src.extend([i] * len(j))
        if not xs:
            return np.zeros((0, 3)), np.zeros(0, dtype=int)
        return np.concatenate(xs), np.asarray(src, dtype=int)


# ----------------------------------------------------------------------------- labeller
class TorusLabeller:
    """The toy's labeller: "knn" (trained on `n_samples` uniform points) or "oracle" with noise."""

    def __init__(self, *, kind: str = "knn", n_samples: int = 1000, noise: float = 0.1,
                 R: float = 2.0, r: float = 0.8, seed: int = 0) -> None:
        if kind not in ("knn", "oracle"):
            raise ValueError(f"kind must be 'knn' or 'oracle', got {kind!r}")
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise must be in [0, 1], got {noise!r}")
        self.kind, self.noise, self.R, self.seed = kind, noise, R, seed
        self._rng = np.random.default_rng([seed, 7])
        self.model_ = None
        if kind == "knn":
            from sklearn.neighbors import KNeighborsClassifier

            rng = np.random.default_rng([seed, 11])
            x = torus_points(rng.uniform(0, TWO_PI, n_samples),
                             rng.uniform(0, TWO_PI, n_samples), R=R, r=r)
            self.model_ = KNeighborsClassifier(n_neighbors=5).fit(x, torus_label(x, R=R))

    def label(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        if self.model_ is not None:
            p = self.model_.predict_proba(x)
            return self.model_.classes_[p.argmax(axis=1)], p.max(axis=1)
        y = torus_label(x, R=self.R)
        flip = self._rng.random(len(y)) < self.noise
        return np.where(flip, 1 - y, y), np.full(len(y), 1.0 - self.noise)


# ----------------------------------------------------------------------------- one call
@dataclass(frozen=True)
class TorusConfig(Record):
    """Everything that defines a toy run (defaults: the documented toy of docs/results.md).

    Args:
        n_train, n_dev, n_test: split sizes (train covers only part of the torus).
        coverage: fraction of the ring the train split covers, in (0, 1].
        n_thetas: |Θ|, the first `n_thetas` of `torus_thetas` (at most 16).
        sigma: the sampler's angle perturbation (radians).
        labeller: "knn" (5-NN on uniform labelled points) or "oracle" (the rule, with `noise`).
        noise: the oracle's label flip probability.
        agora: the loop's settings.
    """

    n_train: int = 200
    n_dev: int = 200
    n_test: int = 2000
    coverage: float = 0.4
    n_thetas: int = 8
    sigma: float = 0.35
    labeller: str = "knn"
    noise: float = 0.1
    agora: AgoraConfig = field(
        default_factory=lambda: AgoraConfig(samples_per_mistake=4, band=(0.8, 0.99)))

    def __post_init__(self) -> None:
        for name in ("n_train", "n_dev", "n_test"):
            check_positive_int(f"TorusConfig.{name}", getattr(self, name))
        check_float("TorusConfig.coverage", self.coverage, low=0.0, high=1.0, low_open=True)
        check_int("TorusConfig.n_thetas", self.n_thetas, minimum=1)
        if self.n_thetas > 16:
            raise ValueError(f"TorusConfig.n_thetas must be <= 16, got {self.n_thetas}")
        check_positive("TorusConfig.sigma", self.sigma)
        check_choice("TorusConfig.labeller", self.labeller, ("knn", "oracle"))
        check_probability("TorusConfig.noise", self.noise)
        if not isinstance(self.agora, AgoraConfig):
            raise TypeError(f"TorusConfig.agora must be an AgoraConfig, got {self.agora!r}")

    @classmethod
    def smoke(cls, **changes: Any) -> TorusConfig:
        """A smaller torus for tests and smoke runs: 60 train and dev points, 500 test points."""
        return cls(**{"n_train": 60, "n_dev": 60, "n_test": 500, **changes})


@dataclass(frozen=True)
class TorusRun(Record):
    """A toy run: the Agora result, the data, and test accuracy of Agora's best model versus
    the best θ on the original train set (round 0's choice = plain "train every θ, keep best")."""

    result: AgoraResult
    data: TorusData
    test_accuracy: float
    baseline_test_accuracy: float


def run_torus(config: TorusConfig = TorusConfig(), *, seed: int = 0,
              progress: bool = False) -> TorusRun:
    """Build the toy and run `loop.augment` on it (the same code path as text)."""
    data = make_torus(n_train=config.n_train, n_dev=config.n_dev, n_test=config.n_test,
                      coverage=config.coverage, seed=seed)
    thetas = torus_thetas(config.n_thetas)
    learner = KnnLearner()
    result = loop.augment(
        learner, (data.train_x, data.train_y), (data.dev_x, data.dev_y), thetas,
        sampler=TorusSampler(sigma=config.sigma, R=data.R, r=data.r),
        labeller=TorusLabeller(kind=config.labeller, noise=config.noise, R=data.R, r=data.r,
                               seed=seed),
        config=config.agora, seed=seed, progress=progress)
    test_acc = float(np.mean(learner.predict(result.best_model, data.test_x)[0] == data.test_y))
    base_theta = {loop.theta_label(t): t for t in thetas}[result.rounds[0].best_theta]
    base = learner.fit(data.train_x, data.train_y, base_theta, seed=seed)
    base_acc = float(np.mean(learner.predict(base, data.test_x)[0] == data.test_y))
    return TorusRun(result, data, test_acc, base_acc)


__all__ = [
    "KnnLearner",
    "KnnTheta",
    "TorusConfig",
    "TorusData",
    "TorusLabeller",
    "TorusRun",
    "TorusSampler",
    "make_torus",
    "run_torus",
    "torus_angles",
    "torus_label",
    "torus_points",
    "torus_thetas",
]
