"""Everything p2c installs lives under the ``p2c`` import name (docs/decisions.md, "One import root")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = ("streams", "connectors", "registry", "sandbox", "schemas", "control")
OLD_ROOT_IMPORT = re.compile(rf"^\s*(from|import)\s+({'|'.join(MAPPED)})(\.|\s|$)", re.MULTILINE)


def python_files() -> list[Path]:
    folders = ("p2c", *MAPPED, "tests", "bench")
    return sorted({p.resolve() for folder in folders for p in (ROOT / folder).rglob("*.py")})


def test_each_mapped_folder_is_a_subpackage_of_p2c() -> None:
    for name in MAPPED:
        link = ROOT / "p2c" / name
        assert link.is_symlink(), f"p2c/{name} should link to ../{name}"
        assert link.resolve() == (ROOT / name).resolve()
        assert (link / "__init__.py").exists()


def test_no_module_imports_an_old_top_level_name() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in python_files()
        for match in OLD_ROOT_IMPORT.finditer(path.read_text())
    ]
    assert offenders == [], "import these through p2c (p2c.streams, ...):\n" + "\n".join(offenders)
