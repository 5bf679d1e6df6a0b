"""Shared pytest set-up: offline environment before any HF import, and shared fixtures."""

from __future__ import annotations

import os

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


# Offline by construction: every process started under `blocked_network` refuses and records
# non-loopback connections (tests/test_offline.py proves the guard bites; the notebook smoke runs
# in tests/test_notebooks.py run under it and assert nothing reached for the network).
GUARD = '''
"""Installed by tests/conftest.py (blocked_network): refuse and record non-loopback connections."""
import errno
import os
import socket

_LOG = os.environ["BORTKIT_NET_LOG"]
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}


def _record(what):
    with open(_LOG, "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")


def _local(address):
    if not isinstance(address, tuple):  # AF_UNIX paths, abstract sockets
        return True
    host = address[0]
    host = host.decode() if isinstance(host, bytes) else host
    return host in _LOCAL_NAMES or str(host).startswith("127.")


def _guard(real):
    def guarded(self, address):
        if not _local(address):
            _record(f"connect {address!r}")
            raise OSError(errno.ENETUNREACH, f"network blocked by the offline test: {address!r}")
        return real(self, address)
    return guarded


_real_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    if not _local((host,)):
        _record(f"getaddrinfo {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"lookup blocked by the offline test: {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
socket.getaddrinfo = getaddrinfo
with open(os.environ["BORTKIT_GUARD_LOADED"], "a") as fh:
    fh.write(f"{os.getpid()}\\n")
'''


@pytest.fixture
def blocked_network(tmp_path, monkeypatch):
    """(attempts log, loaded log): every process started from here on runs the guard."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GUARD)
    attempts, loaded = tmp_path / "attempts.log", tmp_path / "loaded.log"
    attempts.touch()
    loaded.touch()
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *([path] if path else [])]))
    monkeypatch.setenv("BORTKIT_NET_LOG", str(attempts))
    monkeypatch.setenv("BORTKIT_GUARD_LOADED", str(loaded))
    return attempts, loaded


