"""Long runs the control starts (a reconcile, a replay): each in a thread, its progress and outcome kept in memory.

The control process keeps the last ``KEEP`` runs of each kind; they are gone when it restarts (a reconcile
is cheap to run again, and a replay's effect is in Kafka, not here).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from p2c.control.deadletters import NotFound
from p2c.errors import ConfigurationError

log = logging.getLogger("p2c.control")

KEEP = 20
RUNNING, DONE, FAILED = "running", "done", "failed"
#: a run: it gets a callback for its progress and returns its outcome (JSON-able)
Work = Callable[[Callable[[dict[str, Any]], None]], dict[str, Any]]


@dataclass
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    state: str = RUNNING
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def start(self, kind: str, params: dict[str, Any], work: Work) -> Job:
        job = Job(uuid.uuid4().hex[:12], kind, params)
        with self._lock:
            self._jobs[job.id] = job
            mine = [j for j in self._jobs.values() if j.kind == kind]
            for old in mine[:-KEEP]:
                del self._jobs[old.id]

        def progress(update: dict[str, Any]) -> None:
            job.progress = dict(update)

        def run() -> None:
            try:
                job.result = work(progress)
                job.state = DONE
            except Exception as exc:  # a run's failure is its outcome, shown to whoever asks
                log.warning("%s %s failed: %s", kind, job.id, exc)
                job.error, job.state = str(exc), FAILED
            finally:
                job.finished = time.time()

        threading.Thread(target=run, name=f"{kind}-{job.id}", daemon=True).start()
        return job

    def get(self, kind: str, id_: str) -> Job:
        job = self._jobs.get(id_)
        if job is None or job.kind != kind:
            raise NotFound(f"no {kind} {id_!r} (the control keeps the last {KEEP}, until it restarts)")
        return job

    def list(self, kind: str) -> list[Job]:
        return [j for j in self._jobs.values() if j.kind == kind]


#: one control process, one set of runs
JOBS = Jobs()


# ---- the API's side of the runs of a kind -----------------------------------------------------------------


async def body_of(request: web.Request) -> dict[str, Any]:
    """The JSON object a run is started with ({} without a body); a ConfigurationError (400) otherwise."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigurationError("the body must be a JSON object")
    return body


def listing(kind: str, plural: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /api/<plural>``: the last runs of ``kind``."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({plural: [j.as_json() for j in JOBS.list(kind)]})

    return handler


def showing(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /api/<plural>/{id}``: one run of ``kind``, its progress and outcome."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(JOBS.get(kind, request.match_info["id"]).as_json())

    return handler
