"""The processes under a ``p2c up`` and what each costs, read from /proc (Linux): shared by the benches."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
#: the names (prefixes) of the broker's process under ``p2c up``: the embedded one, or Apache Kafka's JVM
#: (``--broker kafka``), and what each is
BROKER_PROCESSES = {"tansu": "the embedded broker: holds the records", "java": "Apache Kafka's JVM"}


def children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process on the machine."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    """``root`` and every process under it."""
    tree, found, todo = children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def name_of(pid: int) -> str | None:
    """A short name: the p2c command a Python process runs (``p2c streams worker``), else the program's name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return None
    name = " ".join(w for w in words[1:5] if not w.startswith("-")) if "python" in words[0] else Path(words[0]).name
    return name[:60]


def cpu_and_name(pid: int) -> tuple[float, str] | None:
    """CPU seconds (user + system) so far, and the name."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    name = name_of(pid)
    return None if name is None else ((int(fields[11]) + int(fields[12])) / TICK, name)


def rss_mb(pid: int) -> float | None:
    """Resident memory in MiB, or None once the process is gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return None


def cpu_by_name(root: int) -> dict[str, float]:
    """CPU seconds so far of ``root`` and every process under it, by name (processes of one name added up)."""
    found: dict[str, float] = {}
    for pid in descendants(root):
        if (cpu_name := cpu_and_name(pid)) is not None:
            cpu, name = cpu_name
            found[name] = found.get(name, 0.0) + cpu
    return found


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Per name, the % of one core used between two :func:`cpu_by_name` readings ``seconds`` apart, highest first."""
    used = {name: (cpu - before.get(name, 0.0)) / seconds * 100 for name, cpu in after.items()}
    return {name: round(pct, 2) for name, pct in sorted(used.items(), key=lambda kv: -kv[1])}


def broker_share(by_name: dict[str, float]) -> float:
    """The broker's part of a reading by process name (:func:`cpu_by_name`, :func:`cpu_share`)."""
    return sum(v for name, v in by_name.items() if name.startswith(tuple(BROKER_PROCESSES)))


def memory_by_name(root: int) -> dict[str, float]:
    """Resident MiB of ``root`` and every process under it, by name (processes of one name added up)."""
    found: dict[str, float] = {}
    for pid in descendants(root):
        name, rss = name_of(pid), rss_mb(pid)
        if name is not None and rss is not None:
            found[name] = found.get(name, 0.0) + rss
    return found
