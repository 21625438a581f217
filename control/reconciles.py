"""Reconcile from the control: ``POST /api/reconciles`` starts one, ``GET /api/reconciles/{id}`` follows it, and
the console's ``/reconciles`` page has a button, its progress and its differences.

The same library as ``p2c reconcile`` (control/reconcile). The CRM and the ERP are found as the connectors find
them (``P2C_CRM_URL``, ``P2C_ERP_URL``: ``p2c up`` sets them for the control it starts).
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from p2c.control.jobs import JOBS, RUNNING, Job, body_of, listing, showing
from p2c.control.reconcile.cli import systems
from p2c.control.reconcile.compare import KINDS
from p2c.control.reconcile.run import Reconcile
from p2c.errors import ConfigurationError
from p2c.flows import NAMES

KIND = "reconcile"


def start(flows: list[str]) -> Job:
    unknown = sorted(set(flows) - set(NAMES))
    if unknown:
        raise ConfigurationError(f"unknown flow {', '.join(unknown)} (flows: {', '.join(NAMES)})")
    found = systems(None, None, None, None)

    def work(progress: Any) -> dict[str, Any]:
        def report(stage: str, done: int, total: int | None) -> None:
            progress({"stage": stage, "done": done, "total": total})

        return Reconcile(found, progress=report, limit=1000).run(flows).as_json()

    return JOBS.start(KIND, {"flows": flows or list(NAMES)}, work)


async def start_api(request: web.Request) -> web.Response:
    job = start([str(f) for f in (await body_of(request)).get("flows") or []])
    return web.json_response(job.as_json(), status=202)


list_api = listing(KIND, "reconciles")
show_api = showing(KIND)


# ---- the console -----------------------------------------------------------------------------------------


def _form() -> str:
    options = "".join(f'<option value="{n}">{n}</option>' for n in NAMES)
    return (
        '<form method="post" action="/reconciles"><select name="flow" id="reconcile-flow">'
        f'<option value="">every flow</option>{options}</select> '
        '<button type="submit" id="reconcile">Reconcile</button></form>'
    )


async def page_list(request: web.Request) -> web.Response:
    from p2c.control.console import page, table  # the console's frame (the console imports these routes)

    rows = [
        [f'<a href="/reconciles/{j.id}">{j.id}</a>', escape(", ".join(j.params["flows"])), escape(_verdict(j))]
        for j in reversed(JOBS.list(KIND))
    ]
    runs = table(("run", "flows", "outcome"), rows, id_="reconciles") if rows else "<p>none yet</p>"
    text = (
        "<p>Reads both systems through their APIs, applies the flows' templates and lists every difference: "
        "missing in the target, extra in the target, fields that differ.</p>"
    )
    return page("Reconcile", text + _form() + "<h2>Runs</h2>" + runs)


async def page_start(request: web.Request) -> web.Response:
    form = await request.post()
    flow = str(form.get("flow") or "")
    job = start([flow] if flow else [])
    raise web.HTTPSeeOther(f"/reconciles/{job.id}")


def _verdict(job: Job) -> str:
    if job.state == RUNNING:
        p = job.progress
        total = "" if p.get("total") is None else f"/{p['total']}"
        return f"running: {p.get('stage', 'starting')} {p.get('done', 0)}{total}"
    if job.result is None:
        return f"failed: {job.error}"
    return "in sync" if job.result["in_sync"] else f"{job.result['total']} differences"


async def page_show(request: web.Request) -> web.Response:
    from p2c.control.console import page, table

    job = JOBS.get(KIND, request.match_info["id"])
    body = f'<p id="reconcile-state" class="{_class(job)}">{escape(_verdict(job))}</p>'
    if job.result is not None:
        flows = [
            [escape(f["flow"]), str(f["expected"])]
            + [str(f["differences"][k]) for k in KINDS]
            + [str(sum(f["skipped"].values())), str(sum(f["waiting"].values()))]
            for f in job.result["flows"]
        ]
        heads = ("flow", "expected", *KINDS, "skipped", "waiting")
        body += table(heads, flows, numeric=range(1, len(heads)), id_="reconcile-flows")
        diffs = [
            [escape(d["flow"]), escape(d["target"]), escape(d["key"]), escape(d["kind"]), escape(_fields(d["fields"]))]
            for d in job.result["differences"]
        ]
        if diffs:
            body += table(("flow", "target", "key", "difference", "fields"), diffs, id_="reconcile-differences")
    return page(f"Reconcile {job.id}", body + _form(), refresh=1 if job.state == RUNNING else None)


def _class(job: Job) -> str:
    return "ok" if job.result is not None and job.result["in_sync"] else ("" if job.state == RUNNING else "bad")


def _fields(fields: list[dict[str, Any]]) -> str:
    return "; ".join(f"{f['field']}: expected {f['expected']!r}, found {f['actual']!r}" for f in fields)


def add_pages(app: web.Application) -> None:
    app.router.add_get("/reconciles", page_list)
    app.router.add_post("/reconciles", page_start)
    app.router.add_get("/reconciles/{id}", page_show)
