"""The data of a text Agora run: the low-data student split, the labeller's superset, dev-A/dev-B.

Dev discipline (project choice, issue 15): the student's dev set is cut in two by `split_dev`:
dev-A scores every θ and supplies the mistakes Agora samples around; dev-B (the *selection
slice*) only scores each round's best model, to choose the final round; test is read once, at
the end, for the chosen model (and once for each baseline). No dev-A, dev-B or test point is
ever copied into train (`bortkit.agora.loop` drops proposals equal to dev-A/dev-B points; the
pool excludes every evaluation split, `bortkit.agora.pool`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bortkit.data.tasks import load_task
from bortkit.records import check_float


def low_data_split(task: str, *, seed: int = 0, train_size: int = 300, dev_size: int = 300,
                   test_size: int = 1000, labeller_size: int = 2000) -> tuple[Any, Any]:
    """(student DatasetDict, labeller train Dataset) for a low-data run of a builtin task.

    The student gets `train_size` seeded train examples; the labeller `labeller_size` (a
    superset: the extra labelled data is what the labeller brings); dev = `dev_size` validation
    examples (seeded); test = the first `test_size` test examples (same for every seed). The
    task is always split with seed 0, so every run's evaluation texts are the same pool of
    validation/test texts that `bortkit.agora.pool` excludes.
    """
    import datasets

    dd = load_task(task, seed=0)
    tr = dd["train"].shuffle(seed=seed)
    need = max(train_size, labeller_size)
    if len(tr) < need:
        raise ValueError(f"task {task!r} has {len(tr)} train examples < {need} requested")
    dev = dd["validation"].shuffle(seed=seed)
    student = datasets.DatasetDict(
        train=tr.select(range(train_size)), validation=dev.select(range(min(dev_size, len(dev)))),
        test=dd["test"].select(range(min(test_size, len(dd["test"])))))
    return student, tr.select(range(labeller_size))


def split_dev(data: Any, fraction: float, *, seed: int = 0) -> tuple[Any, Any | None]:
    """(dev-A, dev-B) of `data["validation"]`: dev-B is a seeded `fraction` of it (None when
    `fraction` is 0: then dev-A is the whole dev set and the final round is chosen on it).

    Raises:
        ValueError: `fraction` outside [0, 1), or a dev set too small to leave both halves a
            point.
    """
    check_float("select_fraction", fraction, low=0.0, high=1.0, high_open=True)
    dev = data["validation"]
    if fraction == 0:
        return dev, None
    n_b = int(round(fraction * len(dev)))
    if n_b < 1 or n_b >= len(dev):
        raise ValueError(f"select_fraction={fraction} of {len(dev)} dev points leaves dev-A or "
                         "dev-B empty")
    order = np.random.default_rng([seed, 11]).permutation(len(dev))
    return dev.select(np.sort(order[n_b:])), dev.select(np.sort(order[:n_b]))


__all__ = ["low_data_split", "split_dev"]
