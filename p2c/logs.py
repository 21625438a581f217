"""One-line-per-event logging, the same for every component.

Format: ``2026-11-24T01:02:03.123Z INFO  p2c.sink  wrote 500 customers to CustomersV3 in 84 ms``.
"""

from __future__ import annotations

import logging
import os
import sys
import time


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{t}.{int(record.msecs):03d}Z"


def configure(level: str | None = None) -> None:
    """Configure the root logger once: INFO by default, ``P2C_LOG_LEVEL`` to change it."""
    level = (level or os.environ.get("P2C_LOG_LEVEL") or "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)-5s %(name)s  %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that are chatty at INFO: their warnings still show.
    for noisy in ("aiokafka", "faust", "mode", "aiohttp.access", "httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
