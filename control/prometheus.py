"""``/metrics``: the Prometheus text exposition format (version 0.0.4) of the control's snapshot.

Per flow: events in, written, skipped, waiting (and on what), lag, dead letters by state; per component:
live instances and seconds since it last reported. These are the pipeline's figures as Kafka holds them, so
one scrape of the control covers every process. The per-process families (API calls and throttling per
system, rates, last polls, readiness) follow them, from control/processes.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from p2c.control.overview import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# name -> (type, help, field of a flow's status)
FLOW_METRICS = {
    "p2c_flow_events_in_total": ("counter", "Change events on the flow's source topics.", "events_in"),
    "p2c_flow_written_total": ("counter", "Records the sinks wrote to the target.", "written"),
    "p2c_flow_skipped_total": ("counter", "Change events the streams wrote nothing for.", "skipped"),
    "p2c_flow_waiting": ("gauge", "Change events parked on a missing dependency.", "waiting"),
    "p2c_flow_lag": ("gauge", "Records not yet read on the flow's topics (held ones are not lag).", "lag"),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
    return lines


def exposition(snapshot: Snapshot, ready: bool) -> str:
    flows = snapshot.flows()
    lines = _family("p2c_ready", "gauge", "1 when the pipeline is ready (see /api/health).", [({}, float(ready))])
    for name, (kind, help_, key) in FLOW_METRICS.items():
        lines += _family(name, kind, help_, [({"flow": f["flow"]}, float(f[key])) for f in flows])
    lines += _family(
        "p2c_flow_waiting_on",
        "gauge",
        "Change events parked, by what they wait for (one label per record).",
        [({"flow": f["flow"], "on": what}, float(n)) for f in flows for what, n in sorted(f["waiting_on"].items())],
    )
    lines += _family(
        "p2c_flow_dead_letters",
        "gauge",
        "Dead letters by state: open, retried, resolved, discarded.",
        [({"flow": f["flow"], "state": s}, float(n)) for f in flows for s, n in f["dead_letters"].items()],
    )
    components = snapshot.components()
    lines += _family(
        "p2c_component_live",
        "gauge",
        "Instances of a component that reported in the last 15 s.",
        [({"component": c["component"]}, float(c["live"])) for c in components],
    )
    lines += _family(
        "p2c_component_last_seen_seconds",
        "gauge",
        "Seconds since a component last reported.",
        [({"component": c["component"]}, float(c["last_seen_s"])) for c in components],
    )
    return "\n".join(lines) + "\n"
