"""The console's view of the counts that add up (p2c.stages) and of the sources' loads (the home page's
second half): per flow, when it last wrote, its loads' progress, and a table per stage."""

from __future__ import annotations

from html import escape
from typing import Any

from p2c.status import clock, load_line

COLUMNS = (
    "stage",
    "unit",
    "read (+ carried in)",
    "written",
    "waiting",
    "held",
    "skipped",
    "dead-lettered",
    "requeued (+ carried out)",
    "in flight",
)


def _skipped(figures: dict[str, Any]) -> str:
    rules = "; ".join(f"{n} {escape(rule)}" for rule, n in sorted(figures["skipped_by"].items()))
    return f"{figures['skipped']}" + (f" ({rules})" if rules else "")


def _waiting(figures: dict[str, Any]) -> str:
    on = ", ".join(f"{n} on {escape(what)}" for what, n in sorted(figures["waiting_on"].items()))
    return f"{figures['waiting']}" + (f" ({on})" if on else "")


def counts_html(flows: list[dict[str, Any]]) -> str:
    parts = ["<h2>Counts per stage, since each flow began</h2>"]
    for f in flows:
        name = escape(f["flow"])
        ok = '<span class="ok">adds up</span>' if f.get("adds_up") else '<span class="bad">in flight</span>'
        parts.append(f"<h3>{name}: last write {clock(f.get('last_sync_ms'))}, {ok}</h3>")
        for link in f.get("waiting_on_dead_letters", []):
            letter = escape(link["dead_letter"])
            parts.append(
                f'<p class="bad" id="waits-{letter}">{len(link["records"])} waiting on {escape(link["dependency"])}, '
                f'dead-lettered: <a href="/dead-letters/{letter}">{letter}</a> ({escape(link["reason"])})</p>'
            )
        if f.get("loads"):
            items = "".join(f"<li>{escape(load_line(load))}</li>" for load in f["loads"])
            parts.append(f'<ul class="loads" id="loads-{name}">{items}</ul>')
        head = "".join(f"<th>{c}</th>" for c in COLUMNS)
        rows = []
        for s in f.get("stages", []):
            t = s["total"]
            cells = [
                escape(s["stage"]),
                escape(s["unit"]),
                str(t["read"] + t["carried_in"]),
                str(t["written"]),
                _waiting(t),
                str(t["held"]),
                _skipped(t),
                str(t["dead_lettered"]),
                str(t["requeued"] + t["carried_out"]),
                str(t["in_flight"]),
            ]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append(f'<table id="stages-{name}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return "".join(parts)


def processes_html(procs: list[dict[str, Any]]) -> str:
    """The running processes: ready or why not, API calls and 429s per system, records per second."""
    rows = []
    for p in procs:
        why = escape("; ".join(p["why_not"]))
        ready = '<span class="ok">ready</span>' if p["ready"] else f'<span class="bad">{why}</span>'
        calls = "; ".join(
            f"{escape(system)}: {c.get('calls', 0)} calls, {c.get('throttled', 0)} throttled, "
            f"{c.get('failed', 0)} failed"
            for system, c in sorted(p["systems"].items())
        )
        polls = ", ".join(f"{escape(where)} {clock(ms)}" for where, ms in sorted(p["last_polls_ms"].items()))
        rows.append([escape(p["instance"]), ready, f"{p['records_per_s']:g}", calls, polls])
    head = "".join(f"<th>{c}</th>" for c in ("process", "health", "records/s", "API calls", "last polls"))
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<h2>Processes</h2><table id="processes"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
