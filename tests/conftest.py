"""Fixtures shared by the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of public sample files, or a skip that says where it was looked for."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (it sits beside the checkout in CI)")
    return CORPUS
