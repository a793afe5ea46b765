"""Fixtures shared by the test suite."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import CORPUS

# The start-up cache (compiled guides, tables) of the test run goes to a folder of its own,
# inherited by the command lines the tests start, and not into the user's ~/.cache.
os.environ.setdefault("EDI63650_CACHE", tempfile.mkdtemp(prefix="edi63650-test-cache-"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of public sample files, or a skip that says where it was looked for."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (it sits beside the checkout in CI)")
    return CORPUS
