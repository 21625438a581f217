"""The supervisor behind `p2c up` restarts a child that dies and stops everything in reverse order."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from p2c.process import ManagedProcess, log_says
from p2c.supervisor import Supervisor

SERVE = "import time; print('ready', flush=True); time.sleep(60)"


def child(tmp_path: Path, name: str) -> ManagedProcess:
    proc = ManagedProcess(name, [sys.executable, "-c", SERVE], log_path=tmp_path / f"{name}.log")
    proc.ready = log_says(proc)
    return proc


def test_a_killed_child_is_restarted_and_reported(tmp_path: Path) -> None:
    events: list[str] = []
    supervisor = Supervisor(on_event=events.append)
    first, second = child(tmp_path, "first"), child(tmp_path, "second")
    supervisor.start(first)
    supervisor.start(second)
    old_pid = second.pid
    second.kill()
    deadline = time.monotonic() + 10
    while second.restarts == 0 and time.monotonic() < deadline:
        supervisor.check()
        time.sleep(0.1)
    assert second.alive() and second.pid != old_pid
    assert first.alive() and first.restarts == 0
    assert events[0].startswith("second exited with code -9")
    assert events[1].startswith("second restarted (restart #1")
    supervisor.stop_all()
    assert not first.alive() and not second.alive()


def test_children_started_together_run_side_by_side_before_either_is_ready(tmp_path: Path) -> None:
    # "waits" is ready only once "marks" runs: started one after the other, "waits" would never be ready
    marker = tmp_path / "marks-ran"
    waits_for_marker = f"import pathlib, time\nwhile not pathlib.Path({str(marker)!r}).exists(): time.sleep(0.05)\n"
    waits = ManagedProcess("waits", [sys.executable, "-c", waits_for_marker + SERVE], log_path=tmp_path / "waits.log")
    marks = ManagedProcess(
        "marks",
        [sys.executable, "-c", f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n" + SERVE],
        log_path=tmp_path / "marks.log",
    )
    waits.ready, marks.ready = log_says(waits), log_says(marks)
    supervisor = Supervisor()
    try:
        supervisor.start_together([waits, marks], ready_timeout=30)
        assert waits.alive() and marks.alive()
    finally:
        supervisor.stop_all()
    assert not waits.alive() and not marks.alive()


def test_a_child_that_never_gets_ready_fails_with_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "broken", [sys.executable, "-c", "raise SystemExit('no config here')"], log_path=tmp_path / "broken.log"
    )
    proc.ready = log_says(proc)
    try:
        proc.start(timeout=10)
    except RuntimeError as exc:
        assert "broken exited with code 1 before it was ready" in str(exc)
        assert "no config here" in str(exc)
    else:
        raise AssertionError("start() should have failed")
