"""Process-wide helpers: the offline environment, the cache folder, seeding, logging."""

from __future__ import annotations

import contextlib
import logging
import os
import random
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def cache_dir() -> Path:
    """The folder for generated caches (datasets, adapted teacher, corpus).

    `BORTKIT_CACHE` if set; else `<checkout>/.cache` when bortkit runs from a source checkout
    (the usual case: `make` installs it editable); else `~/.cache/bortkit`.
    """
    env = os.environ.get("BORTKIT_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".cache"
    return Path.home() / ".cache" / "bortkit"


def configure_offline() -> None:
    """Make Hugging Face libraries work offline by default, with a project-local datasets cache.

    Values the user already set win (`setdefault`), so someone online can pass hub names with
    ``BORTKIT_ONLINE=1`` (or by setting ``HF_HUB_OFFLINE=0`` themselves).
    """
    if os.environ.get("BORTKIT_ONLINE", "0") not in ("", "0", "false", "False"):
        return
    for var in _OFFLINE_VARS:
        os.environ.setdefault(var, "1")
    os.environ.setdefault("HF_DATASETS_CACHE", str(cache_dir() / "datasets"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def set_seed(seed: int) -> None:
    """Seed python, numpy and (if installed) torch; the one call notebooks make."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a hard dependency in practice
        pass
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' expected load reports (a fresh MLM head, an unused pooler) and its
    progress bars inside the block; the previous settings come back afterwards."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """The torch device a training or profiling step runs on.

    Args:
        device: "auto" (CUDA when a GPU is visible, else the CPU), "cpu", "cuda" or "cuda:N".

    Raises:
        ValueError: an unknown name, or "cuda" asked for on a machine without a usable GPU.
    """
    if not isinstance(device, str) or not (device in DEVICES or device.startswith("cuda:")):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), "
                         f"got {device!r}")
    if device == "cpu":
        return "cpu"
    import torch  # lazy: utils stays importable without torch

    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise ValueError(f"device={device!r} but no CUDA GPU is visible to torch "
                         f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); "
                         "use device='cpu' or 'auto'")
    return device


__all__ = ["DEVICES", "cache_dir", "configure_offline", "quiet_transformers", "resolve_device",
           "set_seed"]
