"""Runs the control starts (reconcile, replay): progress while they run, then their outcome or why they failed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from p2c.control.deadletters import NotFound
from p2c.control.jobs import DONE, FAILED, RUNNING, Jobs
from tests.support.odata import wait_for


def test_a_run_shows_its_progress_then_its_outcome() -> None:
    jobs, go = Jobs(), threading.Event()

    def work(progress: Any) -> dict[str, Any]:
        progress({"done": 1, "total": 2})
        go.wait(10)
        return {"in_sync": True}

    job = jobs.start("reconcile", {"flows": ["accounts"]}, work)
    wait_for("its progress", lambda: job.progress == {"done": 1, "total": 2}, timeout=10)
    assert job.state == RUNNING and jobs.get("reconcile", job.id) is job
    go.set()
    wait_for("its end", lambda: job.state == DONE, timeout=10)
    assert job.result == {"in_sync": True} and job.finished is not None


def test_a_failed_run_says_why_and_an_unknown_one_is_not_found() -> None:
    jobs = Jobs()

    def work(progress: Any) -> dict[str, Any]:
        raise RuntimeError("the ERP did not answer")

    job = jobs.start("replay", {}, work)
    wait_for("its end", lambda: job.state == FAILED, timeout=10)
    assert job.error == "the ERP did not answer"
    with pytest.raises(NotFound):
        jobs.get("reconcile", job.id)  # a replay is not a reconcile
    with pytest.raises(NotFound):
        jobs.get("replay", "nope")
