"""Run independent evaluations locally, in a process pool, or on a Dask cluster.

One small interface, `Executor.imap_unordered(fn, tasks)`: call `fn(*task)` for every task and
yield ``(task_index, result)`` as each finishes. Callers (the FPTAS sweep) commit each result to
the store as it arrives and reassemble results by index, so the outcome never depends on the
order of completion: for deterministic evaluators every executor gives identical results.

* `LocalExecutor` (default): in this process, in order. Simplest to debug and profile.
* `ProcessExecutor`: `concurrent.futures.ProcessPoolExecutor` on this machine.
* `DaskExecutor`: `distributed.Client` to a scheduler address, or a `LocalCluster` it starts
  (and closes). dask is imported only here, only when used.

`fn` and the task arguments must be picklable for the last two (evaluators are frozen
dataclasses of plain values; heavy state is built lazily inside each worker process).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
from typing import Any, Callable, Iterator, Protocol, Sequence

logger = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs tasks and yields ``(index, result)`` in completion order."""

    name: str

    def imap_unordered(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Run tasks one after another in this process."""

    name = "local"

    def imap_unordered(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        for i, task in enumerate(tasks):
            yield i, fn(*task)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessExecutor:
    """Run tasks in a pool of `n_workers` processes on this machine.

    Args:
        n_workers: worker processes (2 on the project's 2-core machine).
        mp_context: multiprocessing start method; "spawn" is safe with torch threads.
    """

    name = "process"

    def __init__(self, n_workers: int = 2, *, mp_context: str = "spawn"):
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
        self.n_workers = n_workers
        self._pool = cf.ProcessPoolExecutor(
            max_workers=n_workers, mp_context=multiprocessing.get_context(mp_context)
        )

    def imap_unordered(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        futures = {self._pool.submit(fn, *task): i for i, task in enumerate(tasks)}
        try:
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskExecutor:
    """Run tasks on a Dask cluster.

    Args:
        address: a scheduler address (``"tcp://host:8786"``); None starts a `LocalCluster`
            owned (and closed) by this executor.
        n_workers: workers of the local cluster.
        threads_per_worker: threads per local worker (1: evaluators are not thread-tuned).
        processes: local workers as processes (True) or threads in this process (False: fast
            start, used by tests).
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        processes: bool = True,
    ):
        try:  # lazy: dask is heavy and only this executor needs it
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
            raise ImportError("the Dask executor needs `pip install distributed`") from exc
        self._cluster = None
        if address:
            self.client = Client(address)
        else:
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=processes,
                dashboard_address=None,
            )
            self.client = Client(self._cluster)
        logger.info("dask executor on %s", self.client.scheduler.address)

    def imap_unordered(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        if not tasks:
            return
        # pure=False: evaluations are not deduplicated by Dask (the store does that).
        futures = [self.client.submit(fn, *task, pure=False) for task in tasks]
        index = {fut.key: i for i, fut in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EXECUTORS = ("local", "process", "dask")


def make_executor(name: str = "local", *, address: str | None = None, n_workers: int = 2,
                  **kwargs: Any) -> Executor:
    """An executor by name: ``"local"``, ``"process"`` or ``"dask"`` (with `address` or local)."""
    if name == "local":
        if address:
            raise ValueError(f"address={address!r} only applies to executor='dask'")
        return LocalExecutor()
    if name == "process":
        return ProcessExecutor(n_workers, **kwargs)
    if name == "dask":
        return DaskExecutor(address, n_workers=n_workers, **kwargs)
    raise ValueError(f"unknown executor {name!r}; valid executors: {', '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "make_executor",
]
