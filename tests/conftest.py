"""Shared pytest set-up: offline environment before any HF import, and shared fixtures."""

from __future__ import annotations

import pytest

import bortkit  # noqa: F401 - sets HF offline variables and the project-local datasets cache


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
