"""Settings every test tier shares."""

from __future__ import annotations

import os

# Tansu holds a group join for half the session timeout: keep joins short in tests.
os.environ.setdefault("P2C_SESSION_TIMEOUT_MS", "2000")
