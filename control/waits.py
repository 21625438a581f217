"""Records waiting on a dead-lettered dependency, linked to its letter from the moment they wait.

The streams publish, per joining flow, the dependency keys their parked records wait for (``waiting_keys`` in
``p2c.metrics``, streams/join/waits.py: ``accounts:<accountid>`` -> the contacts waiting on that account). Here
they meet the dead letters: a letter of the dependency's flow and key, open, is what keeps those records
waiting. Shown by the API (flows and dead letters), ``p2c dlq list|show`` and the console.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from p2c.control.lifecycle import OPEN, Entry
from p2c.errors import RetriableError
from p2c.metrics import WAITING_KEYS, read_snapshots
from p2c.settings import KafkaSettings
from p2c.stages import live

log = logging.getLogger("p2c.control.waits")


def waiting_for(snapshots: Iterable[dict[str, Any]], now_ms: float) -> dict[str, dict[str, list[str]]]:
    """flow -> {dependency (``<flow>:<key>``): [keys of its records waiting on it]}, from the running streams."""
    found: dict[str, dict[str, list[str]]] = {}
    for snap in snapshots:
        if snap.get("component") != "streams" or not live(snap, now_ms):
            continue
        for flow, gauges in (snap.get("gauges") or {}).items():
            for dep, records in (gauges.get(WAITING_KEYS) or {}).items():
                mine = found.setdefault(flow, {})
                mine[dep] = sorted({*mine.get(dep, []), *records})
    return found


def read_waiting_for(kafka: KafkaSettings) -> dict[str, dict[str, list[str]]]:
    """What the streams' parked records wait for; empty, with a warning, when ``p2c.metrics`` cannot be read
    in time (the embedded broker reads a long uncompacted metrics log slowly): the dead letters themselves must
    still be listed, only the "waited on by" links are missing then."""
    try:
        snapshots = read_snapshots(kafka)
    except RetriableError as exc:
        log.warning("what waits on the dead letters is not shown: %s", exc)
        return {}
    return waiting_for(snapshots.values(), time.time() * 1000)


def _open_letters(letters: Iterable[Entry]) -> dict[str, Entry]:
    """``<flow>:<key>`` -> its newest open letter."""
    return {f"{e.flow}:{e.key}": e for e in letters if e.state == OPEN}


def links(flow: str, waits: dict[str, dict[str, list[str]]], letters: Iterable[Entry]) -> list[dict[str, Any]]:
    """The flow's records that wait on a dependency with an open dead letter: the letter and the records."""
    letters_by_dep = _open_letters(letters)
    found = []
    for dep, records in sorted((waits.get(flow) or {}).items()):
        letter = letters_by_dep.get(dep)
        if letter is not None:
            found.append({"dependency": dep, "dead_letter": letter.id, "reason": letter.reason, "records": records})
    return found


def waited_on_by(letters: Iterable[Entry], waits: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    """letter id -> the records (``<flow> <key>``) that wait on its record."""
    by_dep: dict[str, list[str]] = {}
    for flow, deps in waits.items():
        for dep, records in deps.items():
            by_dep.setdefault(dep, []).extend(f"{flow} {r}" for r in records)
    return {e.id: by_dep[f"{e.flow}:{e.key}"] for e in letters if e.state == OPEN and f"{e.flow}:{e.key}" in by_dep}
