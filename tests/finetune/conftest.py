"""Shared fixtures of the fine-tuning tests: an easy synthetic task built in code, a tiny
random-init BERT, and one model trained once per session (tests never call a hub)."""

from __future__ import annotations

import random

import pytest

from bortkit.finetune import FinetuneConfig, finetune
from bortkit.theta import Theta

# A θ that learns the easy task in a few epochs of a tiny model.
EASY = Theta(seed=0, lr=3e-3, warmup_ratio=0.0, batch_size=16)


def _split(n: int, seed: int, *, n_labels: int = 2):
    """The label is the first word; three filler words follow."""
    from datasets import ClassLabel, Dataset, Features, Value

    words = ["bad", "good", "meh"][:n_labels]
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        y = rng.randrange(n_labels)
        filler = " ".join(rng.choice(["long", "short", "red", "movie", "plot"]) for _ in range(3))
        rows.append({"text": f"{words[y]} {filler}", "label": y})
    features = Features({"text": Value("string"), "label": ClassLabel(names=words)})
    return Dataset.from_list(rows, features=features)


@pytest.fixture(scope="session")
def make_split():
    """``make_split(n, seed, n_labels=2)``: one split of the easy task."""
    return _split


@pytest.fixture(scope="session")
def make_task():
    """``make_task(n_train=128, n_eval=64, n_labels=2)``: the easy task's three splits."""

    def make(n_train: int = 128, n_eval: int = 64, *, n_labels: int = 2):
        from datasets import DatasetDict

        return DatasetDict(train=_split(n_train, 0, n_labels=n_labels),
                           validation=_split(n_eval, 1, n_labels=n_labels),
                           test=_split(n_eval, 2, n_labels=n_labels))

    return make


@pytest.fixture(scope="session")
def tiny(tiny_spec):
    """The tiny random-init student: D2-A2-H32-I64 with 64 positions."""
    return tiny_spec(max_position_embeddings=64)


@pytest.fixture(scope="session")
def easy_theta():
    return EASY


@pytest.fixture(scope="session")
def trained(tmp_path_factory, make_task, tiny):
    """The tiny model fine-tuned for 4 epochs on the easy task (1 thread) and exported, once."""
    out = tmp_path_factory.mktemp("ft") / "model"
    config = FinetuneConfig(epochs=4, max_length=16, patience=None, threads=1)
    return finetune(tiny, make_task(), theta=EASY, config=config, output_dir=out,
                    progress=False)
