"""`p2c kafka fetch` for real, from Maven Central: by Maven and by plain HTTPS, both ending with the pinned jars."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from p2c.kafka import is_complete
from p2c.kafka.artifacts import ARTIFACTS
from p2c.kafka.fetch import fetch

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def test_over_https_the_jars_match_their_published_and_pinned_checksums(tmp_path: Path) -> None:
    said: list[str] = []
    libs = fetch(tmp_path, said.append, maven=False)
    assert sorted(p.name for p in libs.glob("*.jar")) == sorted(a.file_name for a in ARTIFACTS)
    assert is_complete(tmp_path)
    assert sum(f"[{len(ARTIFACTS)}/{len(ARTIFACTS)}]" in line for line in said) == 1  # progress, per jar
    again: list[str] = []
    assert fetch(tmp_path, again.append) == libs and again == []  # idempotent: nothing to do


@pytest.mark.skipif(shutil.which("mvn") is None, reason="Maven is not installed: the HTTPS way is tested alone")
def test_with_maven_the_same_jars(tmp_path: Path) -> None:
    libs = fetch(tmp_path, maven=True)
    assert sorted(p.name for p in libs.glob("*.jar")) == sorted(a.file_name for a in ARTIFACTS)
    assert is_complete(tmp_path)
