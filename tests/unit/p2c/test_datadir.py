from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2c.datadir import DataDirLock
from p2c.errors import ConfigurationError


def test_a_second_p2c_up_on_the_same_data_dir_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    with pytest.raises(ConfigurationError, match=rf"another p2c up \(pid {os.getpid()}\).*--data-dir"):
        DataDirLock(tmp_path).acquire()
    first.release()
    again = DataDirLock(tmp_path)
    again.acquire()  # released: free again
    again.release()


def test_other_data_dirs_are_independent(tmp_path: Path) -> None:
    a, b = DataDirLock(tmp_path / "a"), DataDirLock(tmp_path / "b")
    a.acquire()
    b.acquire()
    a.release()
    b.release()
