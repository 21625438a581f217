"""Replay from the control: ``POST /api/replays`` starts one, ``GET /api/replays/{id}`` follows it, and the
console's ``/replays`` page has the form and the progress. The same library as ``p2c replay`` (control/replay)."""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from p2c.control.jobs import JOBS, RUNNING, Job, body_of, listing, showing
from p2c.control.replay.run import STAGES, Progress, Replay, plan_groups
from p2c.control.replay.seek import EARLIEST, Start
from p2c.control.trace_web import KAFKA
from p2c.errors import ConfigurationError
from p2c.flows import NAMES
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings

KIND = "replay"


def start(kafka: KafkaSettings, flow: str, start_at: str, stage: str) -> Job:
    if flow not in NAMES:
        raise ConfigurationError(f"unknown flow {flow!r} (flows: {', '.join(NAMES)})")
    begin = Start.parse(start_at)
    from p2c.streams.settings import StreamsSettings

    group = StreamsSettings().app_id
    plan_groups(flow, stage, group)  # a bad stage is refused now, not in the run

    def work(progress: Any) -> dict[str, Any]:
        require_kafka(kafka)

        def report(p: Progress) -> None:
            progress(p.as_json())

        return Replay(kafka, flow, begin, stage, streams_group=group, on_progress=report).run().as_json()

    return JOBS.start(KIND, {"flow": flow, "from": str(begin), "stage": stage}, work)


async def start_api(request: web.Request) -> web.Response:
    body = await body_of(request)
    if not body.get("flow") or not body.get("from"):
        raise ConfigurationError('give {"flow": ..., "from": "earliest" | offset | ISO time, "stage": ...}')
    job = start(request.app[KAFKA], str(body["flow"]), str(body["from"]), str(body.get("stage") or "streams"))
    return web.json_response(job.as_json(), status=202)


list_api = listing(KIND, "replays")
show_api = showing(KIND)


# ---- the console -----------------------------------------------------------------------------------------


def _form() -> str:
    flows = "".join(f'<option value="{n}">{n}</option>' for n in NAMES)
    stages = "".join(f'<option value="{s}">{s}</option>' for s in STAGES)
    return (
        '<form method="post" action="/replays">'
        f'<select name="flow" id="replay-flow">{flows}</select> '
        f'from <input type="text" name="from" value="{EARLIEST}" id="replay-from" '
        'title="earliest, an offset, or a time (2026-12-01T04:00:00Z)"> '
        f'stage <select name="stage" id="replay-stage">{stages}</select> '
        '<button type="submit" id="replay">Replay</button></form>'
    )


def _state(job: Job) -> str:
    p = job.progress
    figures = f"{p.get('done', 0)}/{p.get('total', 0)} records" if p else ""
    if job.state == RUNNING:
        return f"{p.get('state', 'starting')} {figures}".strip()
    if job.error is not None:
        return f"failed: {job.error}"
    return f"done: {figures}"


async def page_list(request: web.Request) -> web.Response:
    from p2c.control.console import page, table  # the console's frame (the console imports these routes)

    rows = [
        [
            f'<a href="/replays/{j.id}">{j.id}</a>',
            escape(j.params["flow"]),
            escape(j.params["stage"]),
            escape(j.params["from"]),
            escape(_state(j)),
        ]
        for j in reversed(JOBS.list(KIND))
    ]
    runs = table(("run", "flow", "stage", "from", "state"), rows, id_="replays") if rows else "<p>none yet</p>"
    text = (
        "<p>Reads a flow again from a point of its topics while p2c runs: <b>streams</b> sends its changes through "
        "its logic again, <b>sink</b> its writes into the target. Writes carry their versions: what the target "
        "has is skipped, what it lost is written again.</p>"
    )
    return page("Replay", text + _form() + "<h2>Runs</h2>" + runs)


async def page_start(request: web.Request) -> web.Response:
    from p2c.control.console import page

    form = await request.post()
    try:
        job = start(request.app[KAFKA], str(form.get("flow")), str(form.get("from") or ""), str(form.get("stage")))
    except ConfigurationError as exc:
        return page("Replay", f'<p class="bad" id="replay-state">{escape(str(exc))}</p>' + _form())
    raise web.HTTPSeeOther(f"/replays/{job.id}")


async def page_show(request: web.Request) -> web.Response:
    from p2c.control.console import page

    job = JOBS.get(KIND, request.match_info["id"])
    what = f"{job.params['flow']} ({job.params['stage']}, from {job.params['from']})"
    css = "bad" if job.error else ("ok" if job.state != RUNNING else "")
    body = f'<p>{escape(what)}</p><p id="replay-state" class="{css}">{escape(_state(job))}</p>'
    return page(f"Replay {job.id}", body + _form(), refresh=1 if job.state == RUNNING else None)


def add_pages(app: web.Application) -> None:
    app.router.add_get("/replays", page_list)
    app.router.add_post("/replays", page_start)
    app.router.add_get("/replays/{id}", page_show)
