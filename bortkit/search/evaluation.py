"""Evaluators: what the FPTAS calls to get the surrogate error e(ξ) of a candidate.

An evaluator trains candidate ξ with hyperparameters θ for a bounded number of steps and returns
an `EvalResult(error, loss, seconds)`. Two ship:

* `SurrogateEvaluator` (default for real runs): a thin adapter over
  `bortkit.pretrain.engine.surrogate_error` — KD pretraining for `steps` steps on the real corpus, error
  = held-out masked-token error rate (DESIGN.md, project choice 3). torch and the teacher are
  loaded lazily, once per process.
* `SyntheticEvaluator`: a deterministic, smooth *teaching stand-in* with the AB^nC-like
  "error correspondence" built in (error falls monotonically with encoder size, rises when a
  large model is under-trained, and is mildly sensitive to θ and the head count), plus seeded
  noise. It costs microseconds, so tests, the smoke notebook and the teaching demo use it. Its
  numbers are not measurements of anything.

Both are picklable (so process and Dask executors can ship them) and expose `version`, which is
part of every store key: changing an evaluator's settings never reuses stale results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

from bortkit.arch import ArchSpec, count_ops, layer_params


@dataclass(frozen=True)
class EvalResult:
    """One bounded-training evaluation: surrogate error in [0, 1], its loss, and its cost.

    Attributes:
        error: surrogate error e(ξ) (held-out masked-token error rate for the surrogate).
        loss: the matching loss (e.g. held-out MLM cross-entropy), recorded but not optimised.
        seconds: training + evaluation time in seconds (simulated for the synthetic evaluator).
    """

    error: float
    loss: float
    seconds: float

    def to_dict(self) -> dict[str, float]:
        return {"error": self.error, "loss": self.loss, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        return cls(float(data["error"]), float(data["loss"]), float(data["seconds"]))


@runtime_checkable
class Evaluator(Protocol):
    """What `bortkit.search.fptas.search` needs: a version string and `evaluate`."""

    @property
    def version(self) -> str: ...

    def evaluate(
        self, spec: ArchSpec, theta: Mapping[str, Any], *, steps: int, seed: int
    ) -> EvalResult: ...


def _unit_normal(*parts: Any) -> float:
    """A standard-normal draw that depends only on `parts` (stable across processes and runs)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(blob).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    u2 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller


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
        gamma: learning-rate sensitivity γ (θ without ``lr`` gets no penalty).
        delta: head-dimension sensitivity δ.
        noise: relative standard deviation of the seeded noise.
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
    sleep_s: float = 0.0
    log_path: str | None = field(default=None, compare=False)

    @property
    def version(self) -> str:
        return (
            f"synthetic-v1(floor={self.floor},alpha={self.alpha},size_scale={self.size_scale},"
            f"tau={self.tau},gamma={self.gamma},delta={self.delta},noise={self.noise})"
        )

    def error(self, spec: ArchSpec, theta: Mapping[str, Any], *, steps: int, seed: int) -> float:
        """The model's error (no sleeping, no logging)."""
        x = spec.D * layer_params(spec.H, spec.I) / self.size_scale
        capacity = x**self.alpha * steps / (steps + self.tau * x**0.25)
        reducible = (1.0 - self.floor) / (1.0 + capacity)
        lr = theta.get("lr")
        if lr is not None:
            lr_star = 1e-3 * math.sqrt(256.0 / spec.H)
            reducible *= 1.0 + self.gamma * math.log(float(lr) / lr_star) ** 2
        reducible *= 1.0 + self.delta * math.log2((spec.H / spec.A) / 32.0) ** 2
        z = _unit_normal(spec.to_dict(), dict(theta), int(steps), int(seed))
        e = (self.floor + reducible) * (1.0 + self.noise * z)
        return min(max(e, 1e-4), 0.9999)

    def evaluate(
        self, spec: ArchSpec, theta: Mapping[str, Any], *, steps: int, seed: int
    ) -> EvalResult:
        if self.log_path is not None:
            line = json.dumps([spec.label, dict(theta), steps, seed], sort_keys=True) + "\n"
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


@dataclass(frozen=True)
class SurrogateEvaluator:
    """Adapter: the pretraining surrogate error (`bortkit.pretrain.engine.surrogate_error`).

    KD pretraining of ξ for `steps` steps with θ (keys ``lr``, ``warmup_ratio``,
    ``weight_decay``), error = held-out masked-token error rate. `bortkit.pretrain.engine` (and torch)
    is imported on the first evaluation; it caches the teacher, tokenizer and corpus once per
    process, so constructing or pickling this object stays cheap.

    Args:
        batch_size: |B|, sequences per training step.
        seq_len: tokens per sequence (≤ the space's max positions).
        eval_blocks: held-out blocks evaluated (the same blocks for every candidate).
        objective: ``"kd"`` (the final model's objective), ``"mlm"`` or ``"hidden"``.
        smoke: use the smoke-sized teacher (tests, notebooks with smoke=True).
        options: extra `surrogate_error` keyword arguments as ``((name, value), ...)``.
    """

    batch_size: int = 8
    seq_len: int = 64
    eval_blocks: int = 128
    objective: str = "kd"
    smoke: bool = False
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def version(self) -> str:
        extra = "".join(f",{k}={v}" for k, v in self.options)
        return (
            f"surrogate-v1(batch_size={self.batch_size},seq_len={self.seq_len},"
            f"eval_blocks={self.eval_blocks},objective={self.objective},"
            f"smoke={self.smoke}{extra})"
        )

    def evaluate(
        self, spec: ArchSpec, theta: Mapping[str, Any], *, steps: int, seed: int
    ) -> EvalResult:
        from bortkit import pretrain  # lazy: torch only when a candidate is really trained

        res = pretrain.surrogate_error(
            spec,
            steps=steps,
            theta=dict(theta),
            seed=seed,
            batch_size=self.batch_size,
            seq_len=self.seq_len,
            eval_blocks=self.eval_blocks,
            objective=self.objective,
            smoke=self.smoke,
            **dict(self.options),
        )
        return EvalResult(error=float(res.error), loss=float(res.loss), seconds=float(res.seconds))


def make_evaluator(name: str, **kwargs: Any) -> Evaluator:
    """An evaluator by name: ``"synthetic"`` or ``"surrogate"`` (kwargs go to its constructor)."""
    table = {"synthetic": SyntheticEvaluator, "surrogate": SurrogateEvaluator}
    if name not in table:
        raise ValueError(f"unknown evaluator {name!r}; valid evaluators: {', '.join(table)}")
    return table[name](**kwargs)


__all__ = [
    "EvalResult",
    "Evaluator",
    "SurrogateEvaluator",
    "SyntheticEvaluator",
    "make_evaluator",
]
