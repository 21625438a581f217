"""Every process of the pipeline, from what it publishes to ``p2c.metrics``: alive, ready or why not, its API
calls and throttling per system, its rates, and its sources' last polls. Served by the control
(``/api/processes``, ``/api/processes/{instance}/health``, ``/metrics``) rather than by an HTTP server in each
process: one place to scrape, no port per process to choose and announce (docs/decisions.md).

A process is ready when it reported in the last 15 s and did not stop, no service it calls holds it back
(a 429's Retry-After still running), and its last call to each service was not a failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from p2c.metrics import IN, LOADS, READ
from p2c.stages import STALE_AFTER_S, live


def _clock(ms: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def health(snap: dict[str, Any], now_ms: float) -> list[str]:
    """Why the process is not ready (empty: ready)."""
    age = (now_ms - snap.get("ts_ms", 0)) / 1000
    if snap.get("stopped"):
        return [f"stopped {age:.0f} s ago"]
    if age > STALE_AFTER_S:
        return [f"has not reported for {age:.0f} s"]
    why = []
    for system, calls in sorted((snap.get("systems") or {}).items()):
        until = calls.get("throttled_until_ms") or 0
        if until > now_ms:
            why.append(f"{system} throttles it until {_clock(until)} (Retry-After {calls.get('last_retry_after_s')} s)")
        if calls.get("failing"):
            why.append(
                f"its last call to {system} failed ({calls.get('last_failure')}) at {_clock(calls['last_failed_ms'])}"
            )
    return why


def describe(instance: str, snap: dict[str, Any], now_ms: float) -> dict[str, Any]:
    started = snap.get("started_ms") or snap.get("ts_ms", now_ms)
    uptime_s = max((snap.get("ts_ms", now_ms) - started) / 1000, 1e-3)
    counts = snap.get("counts") or {}
    read = sum(int(c.get(READ, c.get(IN, 0))) for c in counts.values())
    systems = {
        name: calls | {"calls_per_s": round(calls.get("calls", 0) / uptime_s, 2)}
        for name, calls in (snap.get("systems") or {}).items()
    }
    polls = {
        f"{flow}/{entity}": load.get("last_poll_ms")
        for flow, gauges in (snap.get("gauges") or {}).items()
        for entity, load in (gauges.get(LOADS) or {}).items()
        if load.get("last_poll_ms")
    }
    why = health(snap, now_ms)
    return {
        "instance": instance,
        "component": snap.get("component"),
        "host": snap.get("host"),
        "pid": snap.get("pid"),
        "live": live(snap, now_ms),
        "ready": not why,
        "why_not": why,
        "started_ms": started,
        "last_report_s": round((now_ms - snap.get("ts_ms", 0)) / 1000, 1),
        "records_per_s": round(read / uptime_s, 2),
        "systems": systems,
        "last_polls_ms": polls,
    }


def processes(
    snapshots: dict[str, dict[str, Any]], now_ms: float | None = None, *, running: bool = True
) -> list[dict[str, Any]]:
    """Each process instance (only the running ones unless ``running`` is False), by component."""
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    found = [describe(i, s, now_ms) for i, s in snapshots.items() if not running or live(s, now_ms)]
    return sorted(found, key=lambda p: (str(p["component"]), p["instance"]))


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(procs: Iterable[dict[str, Any]]) -> str:
    """The per-process families of ``/metrics``: API calls, throttling and failures per system, last polls."""
    families: dict[str, tuple[str, str, list[str]]] = {
        "p2c_process_ready": ("gauge", "1 when the process is ready (see /api/processes/{instance}/health).", []),
        "p2c_process_records_per_second": ("gauge", "Records the process read per second since it started.", []),
        "p2c_api_calls_total": ("counter", "Calls the process made to a system's API.", []),
        "p2c_api_throttled_total": ("counter", "429 answers (service protection) the process got.", []),
        "p2c_api_failed_total": ("counter", "Calls answered 5xx or not at all.", []),
        "p2c_api_retry_after_seconds": ("gauge", "The Retry-After of the last 429.", []),
        "p2c_source_last_poll_timestamp_seconds": ("gauge", "When a source last polled an entity set.", []),
    }
    for p in procs:
        who = f'component="{_label(p["component"])}",instance="{_label(p["instance"])}"'
        families["p2c_process_ready"][2].append(f"p2c_process_ready{{{who}}} {int(p['ready'])}")
        families["p2c_process_records_per_second"][2].append(
            f"p2c_process_records_per_second{{{who}}} {p['records_per_s']:g}"
        )
        for system, calls in sorted(p["systems"].items()):
            labels = f'{who},system="{_label(system)}"'
            families["p2c_api_calls_total"][2].append(f"p2c_api_calls_total{{{labels}}} {calls.get('calls', 0)}")
            families["p2c_api_throttled_total"][2].append(
                f"p2c_api_throttled_total{{{labels}}} {calls.get('throttled', 0)}"
            )
            families["p2c_api_failed_total"][2].append(f"p2c_api_failed_total{{{labels}}} {calls.get('failed', 0)}")
            if calls.get("last_retry_after_s") is not None:
                families["p2c_api_retry_after_seconds"][2].append(
                    f"p2c_api_retry_after_seconds{{{labels}}} {float(calls['last_retry_after_s']):g}"
                )
        for where, ms in sorted(p["last_polls_ms"].items()):
            families["p2c_source_last_poll_timestamp_seconds"][2].append(
                f'p2c_source_last_poll_timestamp_seconds{{{who},entity="{_label(where)}"}} {ms / 1000:.3f}'
            )
    lines = []
    for name, (kind, help_, samples) in families.items():
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *samples]
    return "\n".join(lines) + "\n"
