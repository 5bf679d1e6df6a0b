"""Shared pytest set-up: offline environment before any HF import, and shared fixtures."""

from __future__ import annotations

import pytest

import bortkit  # noqa: F401 - sets HF offline variables and the project-local datasets cache

TINY_SHAPE = dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=32,
                  intermediate_size=64)


@pytest.fixture(scope="session")
def tiny_spec():
    """The one tiny-config factory (transformers' `BertModelTester.get_config` idiom).

    ``tiny_spec()`` is D2-A2-H32-I64 with BERT's vocabulary; keyword arguments change fields:
    ``tiny_spec(vocab_size=100, max_position_embeddings=64)``.
    """
    from bortkit.arch import ArchSpec

    def make(**changes):
        return ArchSpec(**{**TINY_SHAPE, **changes})

    return make


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny models on one torch thread.

    They gain nothing from two, and on a shared 2-core machine oversubscribed torch threads make
    them many times slower. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer():
    """The teacher's WordPiece tokenizer (the shipped MiniLM checkpoint's), loaded once."""
    from bortkit.pretrain.teacher import load_tokenizer

    return load_tokenizer()


def _git_status() -> str | None:
    """`git status --porcelain` of the checkout, or None outside a git checkout."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def pytest_sessionstart(session):
    """Remember the tree's state: tests/test_zz_clean_tree.py checks the suite left it so."""
    session.config.bortkit_git_status = _git_status()


@pytest.fixture(scope="session")
def git_status_at_start(request):
    return request.config.bortkit_git_status, _git_status
