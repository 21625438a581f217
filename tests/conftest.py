"""Settings every test tier shares."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from p2c import overrides

# Tansu holds a group join for half the session timeout: keep joins short in tests.
os.environ.setdefault("P2C_SESSION_TIMEOUT_MS", "2000")


@pytest.fixture(autouse=True)
def _own_templates_forgotten() -> Iterator[None]:
    """A test that points p2c at its own templates or schemas (p2c.overrides) leaves no trace for the next."""
    yield
    overrides.reset()
