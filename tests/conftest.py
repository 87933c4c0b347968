"""Shared fixtures: the tiny random backbone (fast tests) and the shared data root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared datasets (`BABELSEARCH_DATA` or ../shared/data beside the repository)."""
    root = Path(os.environ.get("BABELSEARCH_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not root.exists():
        pytest.skip(f"shared data not found at {root}: set BABELSEARCH_DATA")
    return root


@pytest.fixture(scope="session")
def tiny_embedder():
    """The untuned tiny random backbone (fp32, deterministic)."""
    from embedder import load_embedder

    return load_embedder("tiny", dtype="float32")
