"""Executors: local, process pool and Dask give the same sweep results for the same seeds."""

from __future__ import annotations

import operator

import pytest

from bortkit.search import executors, fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.space import SearchSpace
from bortkit.theta import theta_grid

CFG = FptasConfig(epsilon=0.2, steps=15, theta=theta_grid("lr2"))


def _outcome(res):
    return (res.chosen.index, res.front,
            [(c.index, c.error, c.w, c.theta) for c in res.candidates])


def _sweep(executor):
    return fptas.search(SearchSpace.tiny(), CFG, evaluator=SyntheticEvaluator(),
                        executor=executor, progress=False)


def test_local_yields_every_index_in_order():
    got = list(executors.LocalExecutor().imap_unordered(operator.add, [(1, 2), (3, 4)]))
    assert got == [(0, 3), (1, 7)]


def test_unknown_executor():
    with pytest.raises(ValueError, match="unknown executor 'gpu'"):
        executors.make_executor("gpu")


def test_address_only_for_dask():
    with pytest.raises(ValueError, match="only applies to executor='dask'"):
        executors.make_executor("local", address="tcp://127.0.0.1:8786")


def test_process_pool_needs_workers():
    with pytest.raises(ValueError, match="n_workers must be a positive int"):
        executors.ProcessExecutor(0)


@pytest.mark.slow
def test_process_pool_equals_local():
    local = _sweep(executors.LocalExecutor())
    with executors.ProcessExecutor(2) as ex:
        pooled = _sweep(ex)
    assert _outcome(pooled) == _outcome(local)


@pytest.mark.slow
def test_dask_local_cluster_equals_local():
    local = _sweep(executors.LocalExecutor())
    with executors.DaskExecutor(n_workers=2, threads_per_worker=1, processes=False) as ex:
        assert ex.name == "dask"
        distributed = _sweep(ex)
    assert _outcome(distributed) == _outcome(local)
    assert distributed.n_trained == local.n_trained


@pytest.mark.slow
def test_dask_client_to_a_scheduler_address_equals_local():
    from distributed import LocalCluster

    local = _sweep(executors.LocalExecutor())
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        with executors.make_executor("dask", address=cluster.scheduler_address) as ex:
            remote = _sweep(ex)
    assert _outcome(remote) == _outcome(local)
