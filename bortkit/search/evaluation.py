"""Evaluators: what the FPTAS calls to get the surrogate error e(ξ) of a candidate.

An evaluator trains candidate ξ with hyperparameters θ (a `bortkit.theta.Theta`) for a bounded
number of steps and returns an `EvalResult(error, loss, seconds)`. Two exist:

* `bortkit.pretrain.surrogate.SurrogateEvaluator` (real runs): bounded KD pretraining for
  `steps` steps on the real corpus and its held-out surrogate error (see that module for the
  error's definition). It lives with the pretraining stage, so that the search never imports
  torch.
* `SyntheticEvaluator` (here): a deterministic *teaching stand-in* that costs microseconds, so
  tests, the smoke notebook and the teaching demo use it. Its numbers are not measurements of
  anything. Two surfaces: ``"size"`` (default) has the AB^nC-like "error correspondence" built
  in (error falls monotonically with encoder size, rises when a large model is under-trained,
  and is mildly sensitive to θ and the head count); ``"shape"`` breaks it on purpose (a
  seeded factor per shape, so near-equal sizes get very different errors), which the FPTAS's
  assumption audit must flag.

Evaluators are picklable (so process and Dask executors can ship them) and expose `version`,
which is part of every store key: changing an evaluator's settings never reuses stale results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bortkit.arch import ArchSpec, count_ops, layer_params
from bortkit.records import Record, check_choice, check_float
from bortkit.theta import Theta

SURFACES = ("size", "shape")


@dataclass(frozen=True)
class EvalResult(Record):
    """One bounded-training evaluation: surrogate error in [0, 1], its loss, and its cost.

    Attributes:
        error: surrogate error e(ξ) (held-out masked-token error rate for the surrogate).
        loss: the matching loss (e.g. held-out MLM cross-entropy), recorded but not optimised.
        seconds: training + evaluation time in seconds (simulated for the synthetic evaluator).
        checkpoint: the folder the trained model was kept in ("" when none was kept: the
            default, the synthetic evaluator, or a result read back from a results store). A
            path string only: the search never loads it.
    """

    error: float
    loss: float
    seconds: float
    checkpoint: str = ""


@runtime_checkable
class Evaluator(Protocol):
    """What `bortkit.search.fptas.search` needs: a version string and `evaluate`."""

    @property
    def version(self) -> str: ...

    def evaluate(self, spec: ArchSpec, theta: Theta, *, steps: int, seed: int) -> EvalResult: ...


def _unit_normal(*parts: Any) -> float:
    """A standard-normal draw that depends only on `parts` (stable across processes and runs)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(blob).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    u2 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller


def _unit_uniform(*parts: Any) -> float:
    """A uniform draw in [0, 1) that depends only on `parts`."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") / 2**64


@dataclass(frozen=True)
class SyntheticEvaluator:
    """A deterministic, smooth error model standing in for training (teaching and tests only).

    With x = encoder parameters D·(4H² + 2HI + 9H + I) / `size_scale`:
    capacity c = x^α · steps / (steps + τ·x^¼) (large models need more steps), and
    e = floor + (1 − floor) / (1 + c), times a θ penalty 1 + γ·ln²(lr / lr*(H)) with
    lr*(H) = 1e-3·√(256/H), times a head penalty 1 + δ·log2²((H/A)/32), times seeded noise
    (1 + noise·z), z ~ N(0, 1) keyed by (spec, θ, steps, seed). Error thus falls monotonically
    with size — the AB^nC "error correspondence" the FPTAS relies on — up to small θ, head and
    noise effects.

    Args:
        floor: irreducible error.
        alpha: size exponent α.
        size_scale: encoder parameters at which x = 1.
        tau: steps needed before a unit-size model reaches half its capacity.
        gamma: learning-rate sensitivity γ.
        delta: head-dimension sensitivity δ.
        noise: relative standard deviation of the seeded noise.
        surface: ``"size"`` (error correspondence holds) or ``"shape"`` (it fails).
        roughness: the spread of the shape factor (``surface="shape"`` only).
        sleep_s: real seconds to sleep per evaluation (to make resume tests observable).
        log_path: if set, one line ``<key>\\n`` is appended (and fsynced) when each evaluation
            starts; tests count evaluations with it.
    """

    floor: float = 0.3
    alpha: float = 0.35
    size_scale: float = 2.0e4
    tau: float = 20.0
    gamma: float = 0.05
    delta: float = 0.01
    noise: float = 0.005
    surface: str = "size"
    roughness: float = 1.0
    sleep_s: float = 0.0
    log_path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_choice("SyntheticEvaluator.surface", self.surface, SURFACES)
        check_float("SyntheticEvaluator.roughness", self.roughness, low=0.0)

    @property
    def version(self) -> str:
        # The "size" surface keeps the version it always had, so stored results stay valid.
        shape = (f",surface=shape,roughness={self.roughness}" if self.surface == "shape"
                 else "")
        return (
            f"synthetic-v1(floor={self.floor},alpha={self.alpha},size_scale={self.size_scale},"
            f"tau={self.tau},gamma={self.gamma},delta={self.delta},noise={self.noise}{shape})"
        )

    def error(self, spec: ArchSpec, theta: Theta, *, steps: int, seed: int) -> float:
        """The model's error (no sleeping, no logging)."""
        x = spec.D * layer_params(spec.H, spec.I) / self.size_scale
        capacity = x**self.alpha * steps / (steps + self.tau * x**0.25)
        reducible = (1.0 - self.floor) / (1.0 + capacity)
        lr_star = 1e-3 * math.sqrt(256.0 / spec.H)
        reducible *= 1.0 + self.gamma * math.log(theta.lr / lr_star) ** 2
        reducible *= 1.0 + self.delta * math.log2((spec.H / spec.A) / 32.0) ** 2
        # The noise is keyed by the one θ field the model reads, so that θ fields it ignores
        # (seed, decay, warm-up, batch size) change no number.
        z = _unit_normal(spec.to_dict(), {"lr": theta.lr}, int(steps), int(seed))
        e = (self.floor + reducible) * (1.0 + self.noise * z)
        if self.surface == "shape":
            e *= math.exp(self.roughness * (_unit_uniform("shape", spec.dai) - 0.5))
        return min(max(e, 1e-4), 0.9999)

    def evaluate(self, spec: ArchSpec, theta: Theta, *, steps: int, seed: int) -> EvalResult:
        """Sleep `sleep_s`, log the start to `log_path` if set, and return the model's error."""
        if self.log_path is not None:
            line = json.dumps([spec.label, theta.to_dict(), steps, seed], sort_keys=True) + "\n"
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        if self.sleep_s > 0:
            time.sleep(self.sleep_s)
        e = self.error(spec, theta, steps=steps, seed=seed)
        # Simulated cost: forward + backward ≈ 3 × forward ops per step at 10 GFLOP/s.
        n = min(64, spec.max_position_embeddings)
        seconds = 3.0 * steps * count_ops(spec, seq_len=n).total / 1e10
        return EvalResult(error=e, loss=-math.log(1.0 - e), seconds=seconds)


__all__ = [
    "SURFACES",
    "EvalResult",
    "Evaluator",
    "SyntheticEvaluator",
]
