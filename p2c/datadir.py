"""One ``p2c up`` per data directory.

Two on one directory would run two sandboxes on one SQLite file, overwrite each other's pid files and mix
their logs. An exclusive ``flock`` on ``<data-dir>/p2c-up.lock`` prevents it; the kernel releases it when
the holder exits, however it exits, so a killed ``p2c up`` never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from p2c.errors import ConfigurationError

LOCK_NAME = "p2c-up.lock"


class DataDirLock:
    """Held for as long as this process runs ``p2c up`` on ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ConfigurationError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigurationError(
                f"another p2c up (pid {holder}) is running on data directory {self.path.parent}: "
                f"stop it (Ctrl-C in its terminal, or `kill {holder}`), or give this one another --data-dir"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def running_pid(data_dir: Path) -> int | None:
    """The pid of the ``p2c up`` running on ``data_dir``, or None when none holds its lock."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
