"""CPU latency of BERT shapes, measured honestly, and how it compares with the Bort papers.

`measure_latency` builds a randomly initialised HF `BertModel` (with pooler) from an `ArchSpec`
and times its forward pass: eval mode, `torch.inference_mode`, a fixed number of torch threads,
warm-up iterations that are not timed, then `repeats` timed calls summarised by the median and
the spread (quartiles, min, max, std). Every condition of the measurement (threads, batch,
sequence length, repeats, warm-up, attention implementation) is written into the `Latency`
record next to the numbers (STYLE rule 10; nanoGPT's `bench.py` burn-in-then-benchmark).

`measure_gemm_peak` times large fp32 matmuls to give the machine's practical GEMM ceiling, so
each model's achieved GFLOP/s (`count_ops(...).matmul_flops / seconds`) reads as a fraction of
what the CPU can do (nanoGPT's MFU, with a measured rather than a datasheet peak).

`profile_presets` runs both over a list of presets or shapes and returns a `ProfileReport`;
`ProfileReport.speedup("bort", over="bert-base")` gives latency ratios. Size tables and the
comparison with the numbers the papers report live in `bortkit.measure.paper` (the old names
`profile.size_rows`, `profile.paper_comparison`, ... still resolve, lazily).

torch and transformers are imported lazily inside the measuring functions.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from bortkit import arch
from bortkit.arch import ArchSpec

logger = logging.getLogger(__name__)

# What notebook 01 runs with smoke=True (same code path, small models).
SMOKE_PRESETS: tuple[str, ...] = ("tinybert-4", "minilm-l6-h384", "bort")
DEFAULT_PRESETS: tuple[str, ...] = (
    "bert-base",
    "bert-large",
    "roberta-large",
    "bort",
    "bort-paper-table",
    "distilbert-like",
    "tinybert-4",
    "minilm-l6-h384",
)
DEFAULT_REFERENCES: tuple[str, ...] = ("bert-base", "bert-large")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _from_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}.from_dict: unknown keys {unknown}")
    return {k: v for k, v in data.items() if k in known}


# ---------------------------------------------------------------------------------------------
# Records.
@dataclass(frozen=True)
class EnvFingerprint:
    """Where a measurement ran: hardware, library versions and the torch thread count."""

    cpu_model: str
    n_cores: int
    torch_version: str
    transformers_version: str
    python_version: str
    platform: str
    threads: int
    load_avg_1m: float  # the machine may be shared: the 1-minute load when the run started

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvFingerprint:
        return cls(**_from_fields(cls, data))


@dataclass(frozen=True)
class GemmPeak:
    """Measured fp32 square-matmul throughput: the practical ceiling for dense layers."""

    gflops: float  # best of `repeats` (the least disturbed run)
    median_gflops: float
    size: int  # n of the n x n @ n x n product
    repeats: int
    threads: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GemmPeak:
        return cls(**_from_fields(cls, data))


@dataclass(frozen=True)
class Latency:
    """One model's forward-pass latency on CPU and the conditions it was measured under.

    Times are wall-clock milliseconds of one `BertModel` forward on a (batch_size, seq_len)
    batch; `latency_ms` is the median of `n_repeat` timed calls after `n_warmup` untimed ones.
    """

    name: str
    spec: dict[str, int]
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

    @property
    def arch_spec(self) -> ArchSpec:
        return ArchSpec.from_dict(self.spec)

    @property
    def iqr_ms(self) -> float:
        return self.p75_ms - self.p25_ms

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["times_ms"] = list(self.times_ms)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Latency:
        kw = _from_fields(cls, data)
        kw["spec"] = dict(kw["spec"])
        kw["times_ms"] = tuple(kw.get("times_ms", ()))
        return cls(**kw)


_STATS = {"median": "latency_ms", "min": "min_ms"}


@dataclass(frozen=True)
class ProfileReport:
    """Latencies of several models measured in one environment, with the GEMM peak."""

    env: EnvFingerprint
    latencies: tuple[Latency, ...]
    peak: GemmPeak | None = None
    interleaved: bool = False  # models timed round-robin (see `profile_presets`)

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
            stat: ``"median"`` (the headline) or ``"min"`` (the least disturbed call: less
                sensitive to other jobs on a shared machine, more optimistic).
        """
        if stat not in _STATS:
            raise ValueError(f"stat must be one of {sorted(_STATS)}, got {stat!r}")
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
            row["label"] = lat.arch_spec.label
            for ref in DEFAULT_REFERENCES:
                if ref in self.names:
                    row[f"speedup_vs_{ref}"] = self.speedup(lat.name, over=ref)
            rows.append(row)
        return pd.DataFrame(rows).set_index("name")

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env.to_dict(),
            "peak": None if self.peak is None else self.peak.to_dict(),
            "latencies": [lat.to_dict() for lat in self.latencies],
            "interleaved": self.interleaved,
            # derived, for readers of the JSON; from_dict ignores it
            "speedups": {
                ref: self.speedups(ref) for ref in DEFAULT_REFERENCES if ref in self.names
            },
            "speedups_min": {
                ref: self.speedups(ref, stat="min")
                for ref in DEFAULT_REFERENCES
                if ref in self.names
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProfileReport:
        peak = data.get("peak")
        return cls(
            env=EnvFingerprint.from_dict(data["env"]),
            latencies=tuple(Latency.from_dict(d) for d in data["latencies"]),
            peak=None if peak is None else GemmPeak.from_dict(peak),
            interleaved=bool(data.get("interleaved", False)),
        )


# ---------------------------------------------------------------------------------------------
# Measuring.
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def env_fingerprint(*, threads: int | None = None) -> EnvFingerprint:
    """Describe this machine and software stack (`threads`: the count a run will use)."""
    import torch
    import transformers

    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = float("nan")
    return EnvFingerprint(
        cpu_model=_cpu_model(),
        n_cores=os.cpu_count() or 1,
        torch_version=torch.__version__,
        transformers_version=transformers.__version__,
        python_version=platform.python_version(),
        platform=platform.platform(),
        threads=torch.get_num_threads() if threads is None else threads,
        load_avg_1m=load,
    )


class _Threads:
    """Context manager: run with `n` torch intra-op threads, restore the old count after."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old = 0

    def __enter__(self) -> int:
        import torch

        self.old = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(self.n)
        return torch.get_num_threads()

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.old)


def measure_gemm_peak(
    *, size: int = 2048, repeats: int = 5, threads: int | None = None
) -> GemmPeak:
    """Time fp32 ``(size, size) @ (size, size)`` matmuls; report best and median GFLOP/s.

    Args:
        size: matrix side n; 2n³ FLOPs per product.
        repeats: timed products (one untimed warm-up product runs first).
        threads: torch threads to use (None: the current setting).
    """
    _check_int("size", size, 1)
    _check_int("repeats", repeats, 1)
    if threads is not None:
        _check_int("threads", threads, 1)
    import torch

    with _Threads(threads) as n_threads:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=gen)
        b = torch.randn(size, size, generator=gen)
        out = torch.empty(size, size)
        torch.mm(a, b, out=out)  # warm-up: allocator, BLAS thread pool
        seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b, out=out)
            seconds.append(time.perf_counter() - t0)
    flops = 2.0 * size**3
    return GemmPeak(
        gflops=flops / min(seconds) / 1e9,
        median_gflops=flops / statistics.median(seconds) / 1e9,
        size=size,
        repeats=repeats,
        threads=n_threads,
    )


def build_model(spec: ArchSpec, *, seed: int = 0, attn_implementation: str = "sdpa") -> Any:
    """A randomly initialised HF `BertModel` (with pooler) of shape `spec`, in eval mode."""
    import torch
    from transformers import BertModel

    torch.manual_seed(seed)
    model = BertModel(spec.to_bert_config(attn_implementation=attn_implementation))
    return model.eval()


def _resolve(spec_or_name: ArchSpec | str) -> tuple[str, ArchSpec]:
    if isinstance(spec_or_name, ArchSpec):
        return spec_or_name.label, spec_or_name
    if isinstance(spec_or_name, str):
        spec = arch.parse_spec(spec_or_name)
        name = spec_or_name.strip()
        return (name if name in arch.PRESETS else spec.label), spec
    raise TypeError(f"expected an ArchSpec or a preset/'D,A,H,I' string, got {spec_or_name!r}")


def _validate(
    spec: ArchSpec,
    seq_len: int,
    batch_size: int,
    repeats: int,
    warmup: int,
    threads: int | None,
    seed: int,
) -> None:
    _check_int("seq_len", seq_len, 1)
    _check_int("batch_size", batch_size, 1)
    _check_int("repeats", repeats, 1)
    _check_int("warmup", warmup, 0)
    _check_int("seed", seed, 0)
    if threads is not None:
        _check_int("threads", threads, 1)
    if seq_len > spec.max_position_embeddings:
        raise ValueError(
            f"seq_len={seq_len} exceeds max_position_embeddings={spec.max_position_embeddings} "
            f"of {spec.label}"
        )


def _prepare(
    spec: ArchSpec, seq_len: int, batch_size: int, seed: int, attn_implementation: str
) -> tuple[Any, dict[str, Any]]:
    """The model and one fixed input batch: token ids (batch, seq), a full attention mask."""
    import torch

    model = build_model(spec, seed=seed, attn_implementation=attn_implementation)
    gen = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, spec.vocab_size, (batch_size, seq_len), generator=gen)
    return model, {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def _time_calls(model: Any, inputs: dict[str, Any], n: int) -> list[float]:
    """Wall-clock milliseconds of `n` forward calls."""
    import torch

    times = []
    with torch.inference_mode():
        for _ in range(n):
            t0 = time.perf_counter()
            model(**inputs)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def _summarize(
    name: str,
    spec: ArchSpec,
    times: list[float],
    *,
    warmup: int,
    threads: int,
    batch_size: int,
    seq_len: int,
    peak: GemmPeak | None,
    attn_implementation: str,
) -> Latency:
    ops = arch.count_ops(spec, seq_len=seq_len, batch_size=batch_size)
    ordered = sorted(times)
    median = statistics.median(ordered)
    gflops = ops.matmul_flops / (median / 1e3) / 1e9
    lat = Latency(
        name=name,
        spec=spec.to_dict(),
        latency_ms=median,
        p25_ms=_percentile(ordered, 0.25),
        p75_ms=_percentile(ordered, 0.75),
        min_ms=ordered[0],
        max_ms=ordered[-1],
        std_ms=statistics.pstdev(ordered),
        n_repeat=len(times),
        n_warmup=warmup,
        threads=threads,
        batch_size=batch_size,
        seq_len=seq_len,
        n_params=arch.count_params(spec).total,
        n_ops=ops.total,
        matmul_flops=ops.matmul_flops,
        achieved_gflops=gflops,
        pct_of_peak=None if peak is None else 100.0 * gflops / peak.gflops,
        attn_implementation=attn_implementation,
        times_ms=tuple(times),
    )
    logger.info("%s: %.2f ms median (IQR %.2f ms)", lat.name, median, lat.iqr_ms)
    return lat


def measure_latency(
    spec: ArchSpec | str,
    *,
    seq_len: int = 128,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 5,
    threads: int | None = None,
    seed: int = 0,
    name: str | None = None,
    peak: GemmPeak | None = None,
    attn_implementation: str = "sdpa",
) -> Latency:
    """Median forward latency of a random-weight `BertModel` of shape `spec` on this CPU.

    Args:
        spec: an `ArchSpec`, a preset name or ``"D,A,H,I[,V]"``.
        seq_len: tokens per sequence (every position attended; no padding).
        batch_size: sequences per forward call.
        repeats: timed forward calls (≥ 1); the median is reported.
        warmup: untimed calls first (≥ 0), for allocator and thread-pool start-up.
        threads: torch intra-op threads during the measurement (None: current setting);
            the previous setting is restored afterwards.
        seed: seeds the weights and the random token ids.
        name: label for the record (default: the preset name or the spec's label).
        peak: a measured GEMM peak, to fill `pct_of_peak`.
        attn_implementation: passed to `BertConfig` ("sdpa" or "eager").
    """
    default_name, spec = _resolve(spec)
    _validate(spec, seq_len, batch_size, repeats, warmup, threads, seed)
    with _Threads(threads) as n_threads:
        model, inputs = _prepare(spec, seq_len, batch_size, seed, attn_implementation)
        _time_calls(model, inputs, warmup)
        times = _time_calls(model, inputs, repeats)
        del model
    return _summarize(
        name or default_name,
        spec,
        times,
        warmup=warmup,
        threads=n_threads,
        batch_size=batch_size,
        seq_len=seq_len,
        peak=peak,
        attn_implementation=attn_implementation,
    )


def _interleaved(
    resolved: list[tuple[str, ArchSpec]],
    *,
    seq_len: int,
    batch_size: int,
    repeats: int,
    warmup: int,
    threads: int | None,
    seed: int,
    peak: GemmPeak | None,
    progress: bool,
) -> list[Latency]:
    """All models in memory; each round times every model once (round-robin)."""
    from tqdm.auto import tqdm

    with _Threads(threads) as n_threads:
        prepared = [_prepare(spec, seq_len, batch_size, seed, "sdpa") for _, spec in resolved]
        for model, inputs in prepared:
            _time_calls(model, inputs, warmup)
        times: list[list[float]] = [[] for _ in prepared]
        for _ in tqdm(range(repeats), desc="rounds", disable=not progress):
            for j, (model, inputs) in enumerate(prepared):
                times[j] += _time_calls(model, inputs, 1)
        del prepared
    return [
        _summarize(
            name,
            spec,
            t,
            warmup=warmup,
            threads=n_threads,
            batch_size=batch_size,
            seq_len=seq_len,
            peak=peak,
            attn_implementation="sdpa",
        )
        for (name, spec), t in zip(resolved, times)
    ]


def profile_presets(
    names_or_specs: Iterable[ArchSpec | str],
    *,
    seq_len: int = 128,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 5,
    threads: int | None = None,
    seed: int = 0,
    gemm_size: int | None = 2048,
    gemm_repeats: int = 5,
    interleave: bool = False,
    progress: bool = True,
) -> ProfileReport:
    """Measure the GEMM peak, then the latency of every model.

    Args:
        names_or_specs: preset names, ``"D,A,H,I[,V]"`` strings or `ArchSpec`s; names must be
            distinct.
        gemm_size: matrix side for `measure_gemm_peak`; None skips the peak measurement.
        interleave: project choice for shared machines. False (default) measures one model
            after another, holding one model in memory. True builds every model first and
            times them round-robin (one call each per round), so slow drifts in background
            load hit every model alike and the speed-up ratios stay fairer; it holds all
            models in memory at once (about 4.6 GB for `DEFAULT_PRESETS`).
        progress: show a tqdm bar (over models, or over rounds when interleaving).
        Others: as `measure_latency`.
    """
    if isinstance(names_or_specs, (str, ArchSpec)):
        names_or_specs = [names_or_specs]
    resolved = [_resolve(x) for x in names_or_specs]
    if not resolved:
        raise ValueError("names_or_specs is empty: give at least one preset or spec")
    names = [n for n, _ in resolved]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"names_or_specs repeats {dupes}")
    for _, spec in resolved:  # fail before the (slow) GEMM measurement
        _validate(spec, seq_len, batch_size, repeats, warmup, threads, seed)
    from tqdm.auto import tqdm

    env = env_fingerprint(threads=threads)
    peak = None
    if gemm_size is not None:
        peak = measure_gemm_peak(size=gemm_size, repeats=gemm_repeats, threads=threads)
    if interleave:
        lats = _interleaved(
            resolved,
            seq_len=seq_len,
            batch_size=batch_size,
            repeats=repeats,
            warmup=warmup,
            threads=threads,
            seed=seed,
            peak=peak,
            progress=progress,
        )
        return ProfileReport(env=env, latencies=tuple(lats), peak=peak, interleaved=True)
    lats = []
    for name, spec in tqdm(resolved, desc="latency", disable=not progress):
        lats.append(
            measure_latency(
                spec,
                seq_len=seq_len,
                batch_size=batch_size,
                repeats=repeats,
                warmup=warmup,
                threads=threads,
                seed=seed,
                name=name,
                peak=peak,
            )
        )
    return ProfileReport(env=env, latencies=tuple(lats), peak=peak)


# ---------------------------------------------------------------------------------------------
# Backward compatibility: the size table and the paper comparison moved to `bortkit.measure.paper`.
# Resolved lazily (PEP 562) so that `bortkit.measure.paper` can import from this module without a cycle.
_MOVED_TO_PAPER = frozenset(
    {
        "PAPER_CLAIMS",
        "ComparisonRow",
        "PaperComparison",
        "SizeRow",
        "paper_comparison",
        "size_frame",
        "size_rows",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MOVED_TO_PAPER:
        from bortkit.measure import paper

        return getattr(paper, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_PRESETS",
    "DEFAULT_REFERENCES",
    "SMOKE_PRESETS",
    "EnvFingerprint",
    "GemmPeak",
    "Latency",
    "ProfileReport",
    "build_model",
    "env_fingerprint",
    "measure_gemm_peak",
    "measure_latency",
    "profile_presets",
]
