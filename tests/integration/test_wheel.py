"""The wheel p2c builds: one import root, and complete.

``pip wheel --no-deps .`` from a copy of the repository (so the build leaves nothing in the checkout): its
``top_level.txt`` names ``p2c`` alone, every file is under ``p2c/`` (or its dist-info), and the templates,
value maps, schemas, sandbox data and ``py.typed`` are in it. Then the wheel is installed on its own
(``pip install --no-deps --target``) and ``p2c --help`` and ``p2c templates check`` run from there, with
``PYTHONSAFEPATH=1`` and a working directory outside the repository: the installed package alone must do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import p2c

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(p2c.__file__).resolve().parent
#: what the build does not need and must not copy (caches, virtual environments, a p2c up's data)
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv*",
    ".p2c",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "src", symlinks=True, ignore=NOT_COPIED)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(work / "src")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [built] = (work / "dist").glob("p2c-*.whl")
    return built


def package_files() -> list[str]:
    """Every file of the package (the linked folders followed), as ``p2c/...`` paths; no caches."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [f"p2c/{(Path(folder) / f).relative_to(PACKAGE).as_posix()}" for f in files]
    return sorted(found)


def test_the_wheel_holds_p2c_alone_and_all_of_it(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [top_level] = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["p2c"]
    dist_info = top_level.split("/")[0]
    assert [n for n in names if not n.startswith(("p2c/", f"{dist_info}/"))] == []
    expected = [n for n in package_files() if not n.endswith(".md")]  # READMEs are for the repository
    assert {"p2c/py.typed", "p2c/streams/templates/accounts.toml", "p2c/sandbox/data/dataverse.json"} <= set(expected)
    assert len([n for n in expected if n.startswith("p2c/schemas/") and n.endswith(".avsc")]) >= 10
    assert [n for n in expected if n not in names] == []  # modules, templates, maps, schemas, sandbox data


def test_the_installed_wheel_runs_on_its_own(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)]
    result = subprocess.run(install, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    env.pop("P2C_TEMPLATES_DIR", None)
    env.pop("P2C_SCHEMAS_DIR", None)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=outside, env=env)

    where = run(sys.executable, "-c", "import p2c.streams.loader as m, p2c; print(p2c.__file__); print(m.__file__)")
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(target) for line in where.stdout.split()), where.stdout
    script = target / "bin" / "p2c"
    helped = run(str(script), "--help")
    assert helped.returncode == 0, helped.stderr
    assert "templates" in helped.stdout and "streams" in helped.stdout
    checked = run(str(script), "templates", "check", "--no-registry")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "fit the contracts and the flows" in checked.stdout
