"""The machine a measurement runs on: its fingerprint, its thread count, its GEMM ceiling.

`env_fingerprint` records the CPU, the core count, the library versions, the torch thread count
and the load when a run starts, so a number can be read with its conditions. `torch_threads`
runs a block with a fixed number of torch intra-op threads and restores the old count.
`synchronize` waits for a CUDA device before a clock is read.
`measure_gemm_peak` times large fp32 matmuls to give the machine's practical GEMM ceiling, so
each model's achieved GFLOP/s reads as a fraction of what the CPU can do (nanoGPT's MFU, with a
measured rather than a datasheet peak).

torch and transformers are imported lazily inside the functions (heavy; `import
bortkit.measure` stays light).
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from typing import Iterator

from bortkit.measure.records import EnvFingerprint, GemmPeak
from bortkit.records import check_positive_int


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def env_fingerprint(*, threads: int | None = None, device: str = "cpu") -> EnvFingerprint:
    """Describe this machine and software stack.

    Args:
        threads: the torch thread count a run will use (None: the current setting).
        device: the resolved torch device a run times ("cpu", "cuda" or "cuda:N"); a CUDA
            device adds its GPU model.
    """
    import torch
    import transformers

    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # not every platform has a load average
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
        device=device,
        gpu_model=torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
    )


def synchronize(device: str) -> None:
    """Wait for the queued kernels of a CUDA `device` (a no-op on the CPU).

    CUDA launches are asynchronous: without this a timer measures the launch, not the work.
    """
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run the block with `n` torch intra-op threads (None: unchanged); yield the count in use.

    The previous count comes back afterwards, so a measurement never changes the caller's
    setting.
    """
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(check_positive_int("threads", n))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def measure_gemm_peak(
    *, size: int = 2048, repeats: int = 5, threads: int | None = None, device: str = "cpu"
) -> GemmPeak:
    """Time fp32 ``(size, size) @ (size, size)`` matmuls; report best and median GFLOP/s.

    Args:
        size: matrix side n; 2n³ FLOPs per product.
        repeats: timed products (one untimed warm-up product runs first).
        threads: torch threads to use (None: the current setting).
        device: a resolved torch device ("cpu", "cuda", "cuda:N"); CUDA products are
            synchronised before and after each timing.
    """
    check_positive_int("size", size)
    check_positive_int("repeats", repeats)
    if threads is not None:
        check_positive_int("threads", threads)
    import torch

    with torch_threads(threads) as n_threads:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=gen).to(device)
        b = torch.randn(size, size, generator=gen).to(device)
        out = torch.empty(size, size, device=device)
        torch.mm(a, b, out=out)  # warm-up: allocator, BLAS thread pool (cuBLAS handle)
        seconds = []
        for _ in range(repeats):
            synchronize(device)
            t0 = time.perf_counter()
            torch.mm(a, b, out=out)
            synchronize(device)
            seconds.append(time.perf_counter() - t0)
    flops = 2.0 * size**3
    return GemmPeak(
        gflops=flops / min(seconds) / 1e9,
        median_gflops=flops / statistics.median(seconds) / 1e9,
        size=size,
        repeats=repeats,
        threads=n_threads,
    )


__all__ = ["env_fingerprint", "measure_gemm_peak", "synchronize", "torch_threads"]
