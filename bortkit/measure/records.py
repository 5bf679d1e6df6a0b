"""The profiler's records: what one measurement ran on, what it measured, and the arithmetic on it.

`Latency` is one model's forward-pass latency with every condition it was measured under (STYLE
rule 10); `EnvFingerprint` is the machine and software stack; `GemmPeak` the measured fp32 matmul
ceiling; `ProfileReport` holds them all and does the speed-up arithmetic. Each is a
`bortkit.records.Record`, so it round-trips through JSON; a `Latency` holds its `ArchSpec`.

`resolve_model` turns a preset name, a ``"D,A,H,I[,V]"`` string or an `ArchSpec` into a
(name, spec) pair; the profiler and the paper comparison both name models this way.

Nothing here measures, and nothing imports torch (pandas only inside `to_frame`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from bortkit import arch
from bortkit.arch import ArchSpec
from bortkit.records import Record, check_choice

# Speed-ups are reported against these when they were measured (the paper's references).
DEFAULT_REFERENCES: tuple[str, ...] = ("bert-base", "bert-large")


def resolve_model(spec_or_name: ArchSpec | str) -> tuple[str, ArchSpec]:
    """(name, spec) of a preset name, a ``"D,A,H,I[,V]"`` string or an `ArchSpec`.

    A preset keeps its name; anything else is named by its label (``"D4-A8-H1024-I768"``).

    Raises:
        TypeError: `spec_or_name` is neither a string nor an `ArchSpec`.
        ValueError: an unknown preset or a malformed spec string (from `arch.parse_spec`).
    """
    if isinstance(spec_or_name, ArchSpec):
        return spec_or_name.label, spec_or_name
    if isinstance(spec_or_name, str):
        spec = arch.parse_spec(spec_or_name)
        name = spec_or_name.strip()
        return (name if name in arch.PRESETS else spec.label), spec
    raise TypeError(f"expected an ArchSpec or a preset/'D,A,H,I' string, got {spec_or_name!r}")


@dataclass(frozen=True)
class EnvFingerprint(Record):
    """Where a measurement ran: hardware, library versions and the torch thread count."""

    # Conditions that change with time, not with the machine: left out of `key()`.
    _VOLATILE: ClassVar[tuple[str, ...]] = ("load_avg_1m",)

    cpu_model: str
    n_cores: int
    torch_version: str
    transformers_version: str
    python_version: str
    platform: str
    threads: int
    load_avg_1m: float  # the machine may be shared: the 1-minute load when the run started
    device: str = "cpu"  # the torch device timed: "cpu" or "cuda[:N]"
    gpu_model: str | None = None  # torch.cuda.get_device_name() when device is CUDA

    def key(self) -> str:
        """A short stable hash of everything but the load: latencies measured under equal keys
        are comparable, so caches of measurements are keyed by it (`bortkit.measure.cost`)."""
        stable = {k: v for k, v in self.to_dict().items() if k not in self._VOLATILE}
        blob = json.dumps(stable, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class GemmPeak(Record):
    """Measured fp32 square-matmul throughput: the practical ceiling for dense layers."""

    gflops: float  # best of `repeats` (the least disturbed run)
    median_gflops: float
    size: int  # n of the n x n @ n x n product
    repeats: int
    threads: int


@dataclass(frozen=True)
class Latency(Record):
    """One model's forward-pass latency and the conditions it was measured under.

    Times are wall-clock milliseconds of one `BertModel` forward on a (batch_size, seq_len)
    batch; `latency_ms` is the median of `n_repeat` timed calls after `n_warmup` untimed ones.
    """

    name: str
    spec: ArchSpec
    latency_ms: float  # median
    p25_ms: float
    p75_ms: float
    min_ms: float
    max_ms: float
    std_ms: float
    n_repeat: int
    n_warmup: int
    threads: int
    batch_size: int
    seq_len: int
    n_params: int  # BertModel with pooler
    n_ops: int  # count_ops(...).total
    matmul_flops: int  # count_ops(...).matmul_flops
    achieved_gflops: float  # matmul_flops / median seconds
    pct_of_peak: float | None = None  # achieved / GemmPeak.gflops * 100, if a peak was given
    attn_implementation: str = "sdpa"
    times_ms: tuple[float, ...] = ()  # every timed call, in order
    device: str = "cpu"  # the torch device the forward ran on (CUDA timings are synchronised)

    @property
    def iqr_ms(self) -> float:
        """Interquartile range of the timed calls (ms)."""
        return self.p75_ms - self.p25_ms


# Which `Latency` field a speed-up statistic reads.
_STATS = {"median": "latency_ms", "min": "min_ms"}


@dataclass(frozen=True)
class ProfileReport(Record):
    """Latencies of several models measured in one environment, with the GEMM peak."""

    # Derived for readers of the JSON (see `to_dict`); `from_dict` drops them again.
    _DERIVED: ClassVar[tuple[str, ...]] = ("speedups", "speedups_min")

    env: EnvFingerprint
    latencies: tuple[Latency, ...]
    peak: GemmPeak | None = None
    interleaved: bool = False  # models timed round-robin (see `latency.profile_presets`)

    @property
    def names(self) -> list[str]:
        return [lat.name for lat in self.latencies]

    def get(self, name: str) -> Latency:
        for lat in self.latencies:
            if lat.name == name:
                return lat
        raise ValueError(f"no model named {name!r} in this report; have {self.names}")

    def medians(self) -> dict[str, float]:
        """Median latency (ms) of every model, by name."""
        return {lat.name: lat.latency_ms for lat in self.latencies}

    def speedup(self, name: str, *, over: str, stat: str = "median") -> float:
        """How many times faster `name` is than `over`: latency(over) / latency(name).

        Args:
            name: the model whose speed-up is wanted.
            over: the reference model.
            stat: ``"median"`` (the headline) or ``"min"`` (the least disturbed call: less
                sensitive to other jobs on a shared machine, more optimistic).
        """
        check_choice("stat", stat, sorted(_STATS))
        field = _STATS[stat]
        return getattr(self.get(over), field) / getattr(self.get(name), field)

    def speedups(self, over: str, *, stat: str = "median") -> dict[str, float]:
        """Speed-up of every model relative to `over` (empty if `over` was not measured)."""
        if over not in self.names:
            return {}
        return {n: self.speedup(n, over=over, stat=stat) for n in self.names}

    def to_frame(self) -> Any:
        """One row per model (pandas DataFrame), with speed-ups vs the default references."""
        import pandas as pd

        rows = []
        for lat in self.latencies:
            row = {k: v for k, v in lat.to_dict().items() if k not in ("spec", "times_ms")}
            row["label"] = lat.spec.label
            for ref in DEFAULT_REFERENCES:
                if ref in self.names:
                    row[f"speedup_vs_{ref}"] = self.speedup(lat.name, over=ref)
            rows.append(row)
        return pd.DataFrame(rows).set_index("name")

    # The idiom's to_dict/from_dict plus the derived speed-up tables, so a reader of
    # profile.json sees the ratios without recomputing them; they are not fields.
    def to_dict(self) -> dict[str, Any]:
        refs = [ref for ref in DEFAULT_REFERENCES if ref in self.names]
        return {
            **super().to_dict(),
            "speedups": {ref: self.speedups(ref) for ref in refs},
            "speedups_min": {ref: self.speedups(ref, stat="min") for ref in refs},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileReport:
        if not isinstance(data, Mapping):
            raise TypeError(f"ProfileReport.from_dict needs a mapping, got {type(data).__name__}")
        return super().from_dict({k: v for k, v in data.items() if k not in cls._DERIVED})


__all__ = [
    "DEFAULT_REFERENCES",
    "EnvFingerprint",
    "GemmPeak",
    "Latency",
    "ProfileReport",
    "resolve_model",
]
