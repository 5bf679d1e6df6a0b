"""Shared pytest set-up: offline environment before any HF import."""

from __future__ import annotations

import bortkit  # noqa: F401 - sets HF offline variables and the project-local datasets cache
