"""Latency of BERT shapes on the CPU (or a CUDA GPU), measured honestly.

`measure_latency` builds a randomly initialised HF `BertModel` (with pooler) from an `ArchSpec`
and times its forward pass (`time_forward`: one clock reading per call, the device synchronised
around it on CUDA): eval mode, `torch.inference_mode`, a fixed number of torch threads,
warm-up iterations that are not timed, then `repeats` timed calls summarised by the median and
the spread (quartiles, min, max, std). Every condition of the measurement (threads, batch,
sequence length, repeats, warm-up, attention implementation) is written into the `Latency`
record next to the numbers (STYLE rule 10; nanoGPT's `bench.py` burn-in-then-benchmark).

`measure_latencies` times several models alike, one after another or round-robin
(interleaved). `profile_presets(config)` measures the GEMM peak (`bortkit.measure.machine`),
then every model of a `ProfileConfig`, and returns a `ProfileReport` (`bortkit.measure.records`);
`report.speedup("bort", over="bert-base")` gives latency ratios. The size table and the
comparison with the papers' numbers live in `bortkit.measure.paper`.

torch, transformers and tqdm are imported lazily inside the measuring functions.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import time
from dataclasses import dataclass
from typing import Any, Sequence

from bortkit import arch
from bortkit.arch import ArchSpec
from bortkit.measure.machine import (
    env_fingerprint,
    measure_gemm_peak,
    synchronize,
    torch_threads,
)
from bortkit.measure.records import GemmPeak, Latency, ProfileReport, resolve_model
from bortkit.records import Record, check_bool, check_int, check_positive_int
from bortkit.utils import DEVICES, resolve_device

logger = logging.getLogger(__name__)

# What the README's table and notebook 01 measure by default.
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


def check_device(device: str) -> str:
    """`device` if it names a device ("auto", "cpu", "cuda", "cuda:N"), else a `ValueError`.

    Only the name is checked (no torch import): a config that asks for CUDA stays loadable on
    a machine without one; `bortkit.utils.resolve_device` checks availability when measuring.
    """
    if not isinstance(device, str) or not (device in DEVICES or re.fullmatch(r"cuda:\d+", device)):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {device!r}")
    return device


def _check_fits(spec: ArchSpec, seq_len: int) -> None:
    if seq_len > spec.max_position_embeddings:
        raise ValueError(
            f"seq_len={seq_len} exceeds max_position_embeddings={spec.max_position_embeddings} "
            f"of {spec.label}"
        )


@dataclass(frozen=True)
class ProfileConfig(Record):
    """What `profile_presets` measures and how (BertConfig-style: one record, validated).

    Args:
        presets: the models: preset names (`arch.PRESETS`), ``"D,A,H,I[,V]"`` strings or
            `ArchSpec`s; their names must be distinct.
        seq_len: tokens per sequence (every position attended; no padding). The papers do not
            say which they used.
        batch_size: sequences per forward call.
        repeats: timed forward calls per model (≥ 1); the median is reported.
        warmup: untimed calls first (≥ 0), for allocator and thread-pool start-up.
        threads: torch intra-op threads during the run (None: torch's setting, one per core);
            the previous setting is restored afterwards.
        seed: seeds the weights and the random token ids.
        gemm_size: matrix side for `measure_gemm_peak`; None skips the peak measurement.
        gemm_repeats: timed products of the GEMM peak measurement.
        interleave: project choice for shared machines. False measures one model after
            another, holding one model in memory. True builds every model first and times them
            round-robin (one call each per round), so slow drifts in background load hit every
            model alike and the speed-up ratios stay fairer; it holds all models in memory at
            once (about 4.6 GB for `DEFAULT_PRESETS`).
        device: where the models run: "auto" (CUDA when present, else the CPU), "cpu",
            "cuda" or "cuda:N". Resolved when measuring, so the record loads anywhere.
    """

    presets: tuple[ArchSpec | str, ...] = DEFAULT_PRESETS
    seq_len: int = 128
    batch_size: int = 1
    repeats: int = 20
    warmup: int = 5
    threads: int | None = None
    seed: int = 0
    gemm_size: int | None = 2048
    gemm_repeats: int = 5
    interleave: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.presets, (str, ArchSpec)):  # one model given bare
            object.__setattr__(self, "presets", (self.presets,))
        else:
            object.__setattr__(self, "presets", tuple(self.presets))
        if not self.presets:
            raise ValueError("presets is empty: give at least one preset or spec")
        check_positive_int("seq_len", self.seq_len)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("repeats", self.repeats)
        check_int("warmup", self.warmup, minimum=0)
        check_int("seed", self.seed, minimum=0)
        if self.threads is not None:
            check_positive_int("threads", self.threads)
        if self.gemm_size is not None:
            check_positive_int("gemm_size", self.gemm_size)
        check_positive_int("gemm_repeats", self.gemm_repeats)
        check_bool("interleave", self.interleave)
        check_device(self.device)
        models = self.models()  # unknown presets and bad spec strings fail here, before timing
        names = [name for name, _ in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"presets repeats {dupes}")
        for _, spec in models:
            _check_fits(spec, self.seq_len)

    def models(self) -> list[tuple[str, ArchSpec]]:
        """(name, spec) of every model in `presets`, in order."""
        return [resolve_model(p) for p in self.presets]

    @classmethod
    def smoke(cls, **changes: Any) -> ProfileConfig:
        """Tiny sizes for tests and notebook smoke runs: three small presets, seq 32, 2 timed
        calls, one thread, a 512² GEMM (seconds on 2 cores; same code path)."""
        sizes: dict[str, Any] = dict(
            presets=("tinybert-4", "minilm-l6-h384", "bort"),
            seq_len=32,
            repeats=2,
            warmup=1,
            threads=1,
            gemm_size=512,
        )
        return cls(**{**sizes, **changes})


def build_model(spec: ArchSpec, *, seed: int = 0, attn_implementation: str = "sdpa") -> Any:
    """A randomly initialised HF `BertModel` (with pooler) of shape `spec`, in eval mode."""
    import torch
    from transformers import BertModel

    torch.manual_seed(seed)
    model = BertModel(spec.to_bert_config(attn_implementation=attn_implementation))
    return model.eval()


def prepare_model(
    spec: ArchSpec,
    *,
    seq_len: int,
    batch_size: int,
    seed: int = 0,
    attn_implementation: str = "sdpa",
    device: str = "cpu",
) -> tuple[Any, dict[str, Any]]:
    """The model on `device` and one fixed input batch: token ids (batch, seq), a full mask.

    `device` must be resolved already (`bortkit.utils.resolve_device`).
    """
    import torch

    model = build_model(spec, seed=seed, attn_implementation=attn_implementation).to(device)
    gen = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, spec.vocab_size, (batch_size, seq_len), generator=gen)
    input_ids = input_ids.to(device)  # (batch, seq)
    return model, {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def time_forward(
    model: Any, inputs: dict[str, Any], n: int, *, device: str = "cpu"
) -> list[float]:
    """Wall-clock milliseconds of `n` forward calls, each its own timing: the profiler's clock.

    On CUDA the device is synchronised before and after each call, so a time is the work and
    not the asynchronous launch.
    """
    import torch

    times = []
    with torch.inference_mode():
        for _ in range(n):
            synchronize(device)
            t0 = time.perf_counter()
            model(**inputs)
            synchronize(device)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


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
    device: str,
) -> Latency:
    ops = arch.count_ops(spec, seq_len=seq_len, batch_size=batch_size)
    ordered = sorted(times)
    median = statistics.median(ordered)
    gflops = ops.matmul_flops / (median / 1e3) / 1e9
    lat = Latency(
        name=name,
        spec=spec,
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
        device=device,
    )
    logger.info("%s: %.2f ms median (IQR %.2f ms)", lat.name, median, lat.iqr_ms)
    return lat


def _check_conditions(
    *, seq_len: int, batch_size: int, repeats: int, warmup: int, seed: int, threads: int | None
) -> None:
    check_positive_int("seq_len", seq_len)
    check_positive_int("batch_size", batch_size)
    check_positive_int("repeats", repeats)
    check_int("warmup", warmup, minimum=0)
    check_int("seed", seed, minimum=0)
    if threads is not None:
        check_positive_int("threads", threads)


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
    device: str = "auto",
) -> Latency:
    """Median forward latency of a random-weight `BertModel` of shape `spec` on `device`.

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
        device: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N".

    Raises:
        ValueError: a bad value, or a CUDA device asked for where there is none.
    """
    default_name, spec = resolve_model(spec)
    _check_conditions(seq_len=seq_len, batch_size=batch_size, repeats=repeats, warmup=warmup,
                      seed=seed, threads=threads)
    _check_fits(spec, seq_len)
    device = resolve_device(check_device(device))
    with torch_threads(threads) as n_threads:
        model, inputs = prepare_model(spec, seq_len=seq_len, batch_size=batch_size, seed=seed,
                                      attn_implementation=attn_implementation, device=device)
        time_forward(model, inputs, warmup, device=device)
        times = time_forward(model, inputs, repeats, device=device)
        del model
    return _summarize(name or default_name, spec, times, warmup=warmup, threads=n_threads,
                      batch_size=batch_size, seq_len=seq_len, peak=peak,
                      attn_implementation=attn_implementation, device=device)


def measure_latencies(
    models: Sequence[tuple[str, ArchSpec]],
    *,
    seq_len: int = 128,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 5,
    threads: int | None = None,
    seed: int = 0,
    device: str = "auto",
    interleave: bool = False,
    peak: GemmPeak | None = None,
    progress: bool = False,
) -> list[Latency]:
    """`measure_latency` of several (name, spec) models under the same conditions, in order.

    Args:
        models: (name, spec) pairs (`ProfileConfig.models()`, or a search space's labels).
        interleave: False times one model after another, holding one in memory. True builds
            every model first, then times them round-robin (one call each per round), so slow
            drifts of a shared machine's load hit every model alike; it holds all models at
            once.
        progress: a tqdm bar (over models, or over rounds when interleaving).
        seq_len, batch_size, repeats, warmup, threads, seed, peak, device: as for
            `measure_latency`.
    """
    from tqdm.auto import tqdm

    _check_conditions(seq_len=seq_len, batch_size=batch_size, repeats=repeats, warmup=warmup,
                      seed=seed, threads=threads)
    check_bool("interleave", interleave)
    for _, spec in models:
        _check_fits(spec, seq_len)
    device = resolve_device(check_device(device))
    if not interleave:
        return [
            measure_latency(spec, seq_len=seq_len, batch_size=batch_size, repeats=repeats,
                            warmup=warmup, threads=threads, seed=seed, name=name, peak=peak,
                            device=device)
            for name, spec in tqdm(models, desc="latency", disable=not progress)
        ]
    with torch_threads(threads) as n_threads:
        prepared = [prepare_model(spec, seq_len=seq_len, batch_size=batch_size, seed=seed,
                                  device=device) for _, spec in models]
        for model, inputs in prepared:
            time_forward(model, inputs, warmup, device=device)
        times: list[list[float]] = [[] for _ in prepared]
        for _ in tqdm(range(repeats), desc="rounds", disable=not progress):
            for j, (model, inputs) in enumerate(prepared):
                times[j] += time_forward(model, inputs, 1, device=device)
        del prepared
    return [
        _summarize(name, spec, t, warmup=warmup, threads=n_threads, batch_size=batch_size,
                   seq_len=seq_len, peak=peak, attn_implementation="sdpa", device=device)
        for (name, spec), t in zip(models, times)
    ]


def profile_presets(config: ProfileConfig, *, progress: bool = True) -> ProfileReport:
    """Measure the GEMM peak, then the latency of every model of `config`.

    Args:
        config: the models and the conditions (`ProfileConfig`; `ProfileConfig.smoke()` for
            tests). It was validated when it was built, so bad input fails before any timing;
            a CUDA device where there is none fails here, before any timing too.
        progress: show a tqdm bar (over models, or over rounds when interleaving).
    """
    if not isinstance(config, ProfileConfig):
        raise TypeError(f"config must be a ProfileConfig, got {type(config).__name__}")
    c = config
    device = resolve_device(c.device)
    env = env_fingerprint(threads=c.threads, device=device)
    peak = None
    if c.gemm_size is not None:
        peak = measure_gemm_peak(size=c.gemm_size, repeats=c.gemm_repeats, threads=c.threads,
                                 device=device)
    lats = measure_latencies(c.models(), seq_len=c.seq_len, batch_size=c.batch_size,
                             repeats=c.repeats, warmup=c.warmup, threads=c.threads,
                             seed=c.seed, device=device, interleave=c.interleave, peak=peak,
                             progress=progress)
    return ProfileReport(env=env, latencies=tuple(lats), peak=peak, interleaved=c.interleave)


__all__ = [
    "DEFAULT_PRESETS",
    "ProfileConfig",
    "build_model",
    "check_device",
    "measure_latencies",
    "measure_latency",
    "prepare_model",
    "profile_presets",
    "time_forward",
]
