"""Run ``p2c`` commands from tests the way a person does, keeping what they print.

A failed command fails the test with its exit code, stdout and stderr: the cause must never be thrown away
(a ``check=True`` run whose stderr was captured and dropped once hid why ``p2c status`` exited 1).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from p2c.process import p2c_command


def run_p2c(*args: str, timeout: float = 120) -> str:
    """stdout of ``p2c ARGS``; AssertionError with everything it printed when it exits non-zero."""
    result = subprocess.run(p2c_command(*args), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(
            f"`p2c {' '.join(args)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result.stdout


def flow_statuses(bootstrap: str) -> dict[str, dict[str, Any]]:
    """``p2c status --json``, by flow name."""
    report = json.loads(run_p2c("status", "--json", "--bootstrap-servers", bootstrap))
    return {f["flow"]: f for f in report["flows"]}


def dead_letters(bootstrap: str, flow: str) -> list[dict[str, Any]]:
    """``p2c dlq list --flow FLOW --json``, one dict per letter."""
    letters: list[dict[str, Any]] = json.loads(
        run_p2c("dlq", "list", "--flow", flow, "--json", "--bootstrap-servers", bootstrap)
    )
    return letters
