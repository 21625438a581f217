"""The console: plain server-rendered pages served with the API, nothing fetched from elsewhere.

Flows at a glance (figures, what waits and on what, components, health), dead letters with their reason and
state, a retry and a discard button. The buttons are HTML forms posting to the console, which calls the same
library code as the API and redirects back (post/redirect/get), so the pages work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from p2c.control import reconciles, replays
from p2c.control.api import blocking, error_status
from p2c.control.counts_view import counts_html, processes_html
from p2c.control.lifecycle import OPEN, STATES, Entry
from p2c.control.overview import OVERVIEW
from p2c.control.processes import processes
from p2c.control.state import RETRIED
from p2c.control.trace_web import trace_page
from p2c.control.waits import waited_on_by
from p2c.errors import P2CError
from p2c.flows import NAMES

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
nav a{margin-right:1em} .bad{color:#a00} .ok{color:#070} .msg{background:#eef;padding:.5em}
form{display:inline} input[type=text]{width:12em} .t{white-space:nowrap}
"""


def page(title: str, body: str, refresh: int | None = None) -> web.Response:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · p2c</title>{meta}'
        f"<style>{STYLE}</style></head><body>"
        '<nav><a href="/">Flows</a><a href="/dead-letters?state=open">Dead letters</a><a href="/trace">Trace</a>'
        '<a href="/replays">Replay</a><a href="/reconciles">Reconcile</a>'
        '<a href="/api/openapi.json">API</a><a href="/metrics">Metrics</a></nav>'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=html, content_type="text/html")


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = (), id_: str = "") -> str:
    nums = set(numeric)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i in nums else f"<td>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<table id="{id_}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


async def home(request: web.Request) -> web.Response:
    overview = request.app[OVERVIEW]
    try:
        ready, reasons = await blocking(overview.health)
        snapshot = await blocking(overview.snapshot)
    except P2CError as exc:
        return page("p2c", f'<p class="bad" id="health">{escape(str(exc))}</p>', refresh=5)
    health = (
        '<p class="ok" id="health">ready</p>'
        if ready
        else '<p class="bad" id="health">not ready: ' + escape("; ".join(reasons)) + "</p>"
    )
    rows = []
    for f in snapshot.flows():
        waits = ", ".join(f"{n} on {escape(what)}" for what, n in sorted(f["waiting_on"].items()))
        open_ = f["dead_letters"][OPEN]
        link = f'<a href="/dead-letters?state=open&amp;flow={f["flow"]}">{open_}</a>' if open_ else "0"
        rows.append(
            [
                escape(f["flow"]),
                escape(f["direction"]),
                str(f["events_in"]),
                str(f["written"]),
                str(f["waiting"]),
                waits,
                str(f["skipped"]),
                str(f["lag"]),
                link,
            ]
        )
    flows = table(
        ("flow", "direction", "events in", "written", "waiting", "waiting on", "skipped", "lag", "open dead letters"),
        rows,
        numeric=(2, 3, 4, 6, 7, 8),
        id_="flows",
    )
    comps = table(
        ("component", "live", "last report"),
        [[escape(c["component"]), str(c["live"]), f"{c['last_seen_s']:.0f} s ago"] for c in snapshot.components()],
        numeric=(1,),
        id_="components",
    )
    note = "<p>Lag is what is still to process on the flow's topics: a load is done when it reaches 0.</p>"
    counts = counts_html(snapshot.flows()) + processes_html(processes(snapshot.report.snapshots))
    return page("Flows", health + flows + note + "<h2>Components</h2>" + comps + counts, refresh=5)


def _actions(entry: Entry) -> str:
    parts = []
    if entry.retryable:
        parts.append(
            f'<form method="post" action="/dead-letters/{escape(entry.id)}/retry">'
            f'<button type="submit" name="retry" id="retry-{escape(entry.id)}">Retry</button></form>'
        )
    if entry.state in (OPEN, RETRIED):
        parts.append(
            f'<form method="post" action="/dead-letters/{escape(entry.id)}/discard">'
            f'<input type="text" name="note" placeholder="why discard" required id="note-{escape(entry.id)}">'
            f'<button type="submit" id="discard-{escape(entry.id)}">Discard</button></form>'
        )
    return " ".join(parts)


async def dead_letters(request: web.Request) -> web.Response:
    states = [s for s in request.query.getall("state", []) if s in STATES]
    flows = [f for f in request.query.getall("flow", []) if f in NAMES]
    try:
        entries = await blocking(request.app[OVERVIEW].dead_letters.entries, flows or None, states or None)
    except P2CError as exc:
        return page("Dead letters", f'<p class="bad">{escape(str(exc))}</p>')
    filters = (
        " ".join(f'<a href="/dead-letters?{urlencode({"state": s})}">{s}</a>' for s in STATES)
        + ' <a href="/dead-letters">all</a>'
    )
    message = f'<p class="msg" id="message">{escape(request.query["done"])}</p>' if "done" in request.query else ""
    rows = [
        [
            escape(e.time),
            escape(e.flow),
            f'<a href="/dead-letters/{escape(e.id)}">{escape(e.key)}</a>',
            escape(e.stage),
            f'<span class="state">{escape(e.state)}</span>',
            escape(e.reason),
            escape(e.why),
            str(e.attempts),
            _actions(e),
        ]
        for e in entries
    ]
    shown = ", ".join(states) if states else "all"
    listing = (
        table(
            ("time", "flow", "key", "stage", "state", "reason", "why", "attempts", ""),
            rows,
            numeric=(7,),
            id_="dead-letters",
        )
        if rows
        else f'<p id="none">no dead letters ({escape(shown)})</p>'
    )
    return page(f"Dead letters: {shown}", message + f"<p>Show: {filters}</p>" + listing)


async def dead_letter(request: web.Request) -> web.Response:
    try:
        letter, entry = await blocking(request.app[OVERVIEW].dead_letters.get, request.match_info["id"])
    except P2CError as exc:
        return page("Dead letter", f'<p class="bad">{escape(str(exc))}</p>')
    waiting = await blocking(request.app[OVERVIEW].waits)
    fields = entry.as_json() | {
        "waited on by": ", ".join(waited_on_by([entry], waiting).get(entry.id, [])),
        "original bytes": f"{len(letter.letter.value or b'')} bytes",
    }
    rows = [[escape(k), escape("" if v is None else str(v))] for k, v in fields.items()]
    return page(f"Dead letter {entry.id}", table(("", ""), rows, id_="letter") + _actions(entry))


def short_time(iso: str) -> str:
    """``2026-12-01T02:02:46.546+00:00`` -> ``2026-12-01 02:02:46 UTC``."""
    return iso[:19].replace("T", " ") + " UTC" if len(iso) >= 19 else iso


def _back(text: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther("/dead-letters?" + urlencode({"state": OPEN, "done": text}))


async def retry(request: web.Request) -> web.Response:
    id_ = request.match_info["id"]
    user = request.headers.get("X-P2C-User") or f"console@{request.remote}"
    try:
        results = await blocking(request.app[OVERVIEW].dead_letters.retry, [id_], by=user)
    except P2CError as exc:
        raise _back(f"{id_} not retried ({error_status(exc)}): {exc}") from exc
    request.app[OVERVIEW].forget()
    raise _back(", ".join(f"{r.id} sent back to {r.sent_to}" for r in results))


async def discard(request: web.Request) -> web.Response:
    id_ = request.match_info["id"]
    form = await request.post()
    user = request.headers.get("X-P2C-User") or f"console@{request.remote}"
    try:
        await blocking(request.app[OVERVIEW].dead_letters.discard, id_, str(form.get("note", "")), user)
    except P2CError as exc:
        raise _back(f"{id_} not discarded: {exc}") from exc
    request.app[OVERVIEW].forget()
    raise _back(f"{id_} discarded")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/dead-letters", dead_letters)
    app.router.add_get("/trace", trace_page)
    app.router.add_get("/dead-letters/{id}", dead_letter)
    app.router.add_post("/dead-letters/{id}/retry", retry)
    app.router.add_post("/dead-letters/{id}/discard", discard)
    reconciles.add_pages(app)
    replays.add_pages(app)
