"""Measured cost beside predicted cost: every candidate of a space timed, cached, compared.

The FPTAS's cost objective i(ξ) is an analytic operation count (`bortkit.arch.count_ops`);
nobody had checked it against a clock (hardware-aware NAS knows the trap: HAT's predictor said
200 ms where 270 ms was measured). Here:

* `measure_costs(space, config, cache=folder)` runs the profiler (`measure_latencies`) on every
  candidate of a `SearchSpace` and returns a `CostTable` (one `Latency` per candidate, in the
  space's order, with the environment it ran in). Measurements are cached in a JSON file per
  environment fingerprint (`EnvFingerprint.key()`: CPU/GPU, versions, threads; not the load),
  so a second run on the same machine and stack times nothing; another machine starts afresh.
* `cost_agreement(table)` fits log(measured ms) = a + b · log(predicted ops) and reports the
  residuals of that fit and the Spearman rank correlation between ops and latency (the rank
  is what the search uses: trimming orders candidates by cost), as a `CostAgreement` record;
  `bortkit.plots.profile.cost_agreement_figure` draws it.
* `CostTable.costs("latency")` is the label → measured-ms mapping a search can use as i(ξ)
  instead of the op count.

torch is imported only by the profiler (lazily); numpy and scipy only inside `cost_agreement`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bortkit.arch import ArchSpec
from bortkit.measure.latency import check_device, measure_latencies
from bortkit.measure.machine import env_fingerprint
from bortkit.measure.records import EnvFingerprint, Latency
from bortkit.records import (
    Record,
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
    load_json,
    save_json,
)
from bortkit.search.space import SearchSpace
from bortkit.utils import resolve_device

logger = logging.getLogger(__name__)

COST_KINDS = ("ops", "latency")


@dataclass(frozen=True)
class CostConfig(Record):
    """How `measure_costs` times each candidate (BertConfig-style: one validated record).

    Args:
        seq_len: tokens per sequence, for the clock and for the predicted count alike.
        batch_size: sequences per forward call.
        repeats: timed calls per candidate; the median is the measured cost.
        warmup: untimed calls first.
        threads: torch intra-op threads (None: torch's setting). Default 1, a project choice
            for shared machines (two threads fighting other jobs for two cores make the times
            meaningless: docs/results.md, "On a busy machine, use one thread").
        seed: seeds the random weights and token ids.
        device: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N"; resolved when
            measuring, so the record loads anywhere.
        interleave: time the candidates round-robin, one call each per round (default: a
            space's small models fit in memory together, and a load drift then hits every
            candidate alike, which keeps their ranks fair).
    """

    seq_len: int = 128
    batch_size: int = 1
    repeats: int = 10
    warmup: int = 2
    threads: int | None = 1
    seed: int = 0
    device: str = "auto"
    interleave: bool = True

    def __post_init__(self) -> None:
        check_positive_int("CostConfig.seq_len", self.seq_len)
        check_positive_int("CostConfig.batch_size", self.batch_size)
        check_positive_int("CostConfig.repeats", self.repeats)
        check_int("CostConfig.warmup", self.warmup, minimum=0)
        check_int("CostConfig.seed", self.seed, minimum=0)
        if self.threads is not None:
            check_positive_int("CostConfig.threads", self.threads)
        check_device(self.device)
        check_bool("CostConfig.interleave", self.interleave)

    @classmethod
    def smoke(cls, **changes: Any) -> CostConfig:
        """Tiny sizes for tests and notebook smoke runs: seq 16, 3 timed calls, one thread."""
        return cls(**{"seq_len": 16, "repeats": 3, "warmup": 1, "threads": 1, **changes})


@dataclass(frozen=True)
class CostTable(Record):
    """Measured latency of every candidate of a space, with the environment it ran in.

    `latencies[k]` is candidate k of the space (its `name` is the spec's label); each holds its
    predicted count too (`n_ops`, `matmul_flops` at this config's sequence length and batch).
    """

    file_name = "cost_table.json"

    space: str
    config: CostConfig
    env: EnvFingerprint
    latencies: tuple[Latency, ...]
    n_cached: int = 0  # candidates read from the cache instead of timed

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(lat.spec.label for lat in self.latencies)

    def costs(self, kind: str = "latency") -> dict[str, float]:
        """label → cost: measured median ms (``"latency"``) or predicted ops (``"ops"``)."""
        check_choice("kind", kind, COST_KINDS)
        field = "latency_ms" if kind == "latency" else "n_ops"
        return {lat.spec.label: float(getattr(lat, field)) for lat in self.latencies}

    def to_frame(self) -> Any:
        """One row per candidate (pandas DataFrame): shape, predicted ops, measured ms, spread."""
        import pandas as pd

        rows = [{"label": lat.spec.label, "D": lat.spec.D, "A": lat.spec.A, "H": lat.spec.H,
                 "I": lat.spec.I, "n_params": lat.n_params, "n_ops": lat.n_ops,
                 "latency_ms": lat.latency_ms, "p25_ms": lat.p25_ms, "p75_ms": lat.p75_ms}
                for lat in self.latencies]
        return pd.DataFrame(rows).set_index("label")


class LatencyCache:
    """Latencies measured in one environment, in ``<folder>/latency-<env.key()>.json``.

    An entry's key is the spec and every condition of its measurement (sequence length, batch,
    repeats, warm-up, seed); the environment (machine, versions, threads, device) is the file.
    The file is rewritten atomically by `save`.
    """

    def __init__(self, folder: str | os.PathLike[str], env: EnvFingerprint) -> None:
        self.path = Path(folder).expanduser() / f"latency-{env.key()}.json"
        self.env = env
        self._entries: dict[str, Latency] = {}
        if self.path.is_file():
            data = load_json(self.path)
            try:
                self._entries = {k: Latency.from_dict(v) for k, v in data["entries"].items()}
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"{self.path}: not a latency cache ({exc}); delete it to "
                                 "measure again") from exc

    @staticmethod
    def key(spec: ArchSpec, config: CostConfig) -> str:
        c = config
        return json.dumps({"spec": spec.to_dict(), "seq_len": c.seq_len,
                           "batch_size": c.batch_size, "repeats": c.repeats, "warmup": c.warmup,
                           "seed": c.seed}, sort_keys=True, separators=(",", ":"))

    def get(self, spec: ArchSpec, config: CostConfig) -> Latency | None:
        return self._entries.get(self.key(spec, config))

    def put(self, lat: Latency, config: CostConfig) -> None:
        self._entries[self.key(lat.spec, config)] = lat

    def __len__(self) -> int:
        return len(self._entries)

    def save(self) -> Path:
        return save_json(self.path, {"env": self.env.to_dict(),
                                     "entries": {k: v.to_dict() for k, v in
                                                 sorted(self._entries.items())}})


def measure_costs(
    space: SearchSpace | Sequence[ArchSpec],
    config: CostConfig,
    *,
    cache: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> CostTable:
    """Time every candidate of `space` with the profiler; reuse cached measurements.

    Args:
        space: a `SearchSpace` (its name goes into the table) or a sequence of distinct specs.
        config: the conditions (`CostConfig`; `CostConfig.smoke()` for tests).
        cache: a folder for `LatencyCache` files (None: measure everything, keep nothing).
        progress: a tqdm bar while timing.

    Raises:
        ValueError: an empty space, repeated specs, a sequence longer than a spec's positions,
            or a CUDA device asked for where there is none (before any timing).
    """
    if not isinstance(config, CostConfig):
        raise TypeError(f"config must be a CostConfig, got {type(config).__name__}")
    name = space.name if isinstance(space, SearchSpace) else "custom"
    specs = list(space.specs() if isinstance(space, SearchSpace) else space)
    if not specs or not all(isinstance(s, ArchSpec) for s in specs):
        raise ValueError(f"space must be a SearchSpace or a non-empty sequence of ArchSpec, "
                         f"got {space!r}")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        repeated = sorted({x for x in labels if labels.count(x) > 1})
        raise ValueError(f"space repeats specs: {repeated}")
    device = resolve_device(config.device)
    env = env_fingerprint(threads=config.threads, device=device)
    store = LatencyCache(cache, env) if cache is not None else None
    found = {k: store.get(s, config) for k, s in enumerate(specs)} if store else {}
    todo = [k for k in range(len(specs)) if found.get(k) is None]
    logger.info("%s: %d candidates, %d cached, %d to time", name, len(specs),
                len(specs) - len(todo), len(todo))
    c = config
    timed = measure_latencies([(labels[k], specs[k]) for k in todo], seq_len=c.seq_len,
                              batch_size=c.batch_size, repeats=c.repeats, warmup=c.warmup,
                              threads=c.threads, seed=c.seed, device=device,
                              interleave=c.interleave, progress=progress) if todo else []
    found.update(zip(todo, timed))
    if store is not None and timed:
        for lat in timed:
            store.put(lat, config)
        store.save()
    return CostTable(space=name, config=config, env=env,
                     latencies=tuple(found[k] for k in range(len(specs))),
                     n_cached=len(specs) - len(todo))


@dataclass(frozen=True)
class CostAgreement(Record):
    """How well the predicted op count explains measured latency, per candidate and overall.

    The fit is ln(ms) = intercept + slope · ln(ops) (least squares); `residuals[k]` is
    ln(measured / fitted) of candidate k (0.1 ≈ 10% slower than the fit predicts). Spearman's ρ
    compares the two rankings: ρ = 1 means ordering by ops is ordering by latency.
    """

    file_name = "cost_agreement.json"

    labels: tuple[str, ...]
    predicted_ops: tuple[int, ...]
    measured_ms: tuple[float, ...]
    fitted_ms: tuple[float, ...]
    residuals: tuple[float, ...]
    slope: float
    intercept: float
    r2: float  # of the log-log fit
    rms_residual: float
    max_abs_residual: float
    spearman_rho: float
    spearman_p: float
    device: str = "cpu"
    seq_len: int = 128
    batch_size: int = 1

    @property
    def n(self) -> int:
        return len(self.labels)

    def worst(self, k: int = 5) -> list[tuple[str, float]]:
        """The `k` candidates the op count predicts worst: (label, residual), largest first."""
        order = sorted(range(self.n), key=lambda j: -abs(self.residuals[j]))
        return [(self.labels[j], self.residuals[j]) for j in order[:k]]

    def summary(self) -> dict[str, float]:
        """The headline numbers (for `summary.json` and results tables)."""
        return {"n": self.n, "spearman_rho": self.spearman_rho, "slope": self.slope,
                "r2": self.r2, "rms_residual": self.rms_residual,
                "max_abs_residual": self.max_abs_residual}


def cost_agreement(table: CostTable) -> CostAgreement:
    """Fit measured latency against predicted ops (log-log) and rank-correlate them.

    Raises:
        ValueError: fewer than 3 candidates (a line through 2 points has no residual).
    """
    import numpy as np
    from scipy import stats

    lats = table.latencies
    if len(lats) < 3:
        raise ValueError(f"cost_agreement needs at least 3 candidates, got {len(lats)}")
    ops = np.array([lat.n_ops for lat in lats], dtype=float)
    ms = np.array([lat.latency_ms for lat in lats], dtype=float)
    x, y = np.log(ops), np.log(ms)
    slope, intercept = np.polyfit(x, y, 1)
    fitted = intercept + slope * x
    resid = y - fitted
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / total if total > 0 else float("nan")
    rho, p = stats.spearmanr(ops, ms)
    return CostAgreement(
        labels=table.labels,
        predicted_ops=tuple(int(lat.n_ops) for lat in lats),
        measured_ms=tuple(float(v) for v in ms),
        fitted_ms=tuple(float(v) for v in np.exp(fitted)),
        residuals=tuple(float(v) for v in resid),
        slope=float(slope),
        intercept=float(intercept),
        r2=r2,
        rms_residual=float(math.sqrt(float(np.mean(resid**2)))),
        max_abs_residual=float(np.max(np.abs(resid))),
        spearman_rho=float(rho),
        spearman_p=float(p),
        device=lats[0].device,
        seq_len=lats[0].seq_len,
        batch_size=lats[0].batch_size,
    )


__all__ = [
    "COST_KINDS",
    "CostAgreement",
    "CostConfig",
    "CostTable",
    "LatencyCache",
    "cost_agreement",
    "measure_costs",
]
