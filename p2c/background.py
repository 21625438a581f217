"""``p2c up --detach`` and ``p2c down``: the whole pipeline in the background, and stopping it.

``--detach`` starts ``p2c up`` again without ``--detach`` as a process of its own (a new session, so it
outlives the terminal), its output in ``<data-dir>/logs/up.log``, and returns once that says ``ready``, or
fails with the log's last lines if it stops first. ``down`` finds the running ``p2c up`` by the data
directory's lock (p2c/datadir.py) and stops it with SIGTERM, which stops every child as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import click

from p2c import options
from p2c.datadir import running_pid
from p2c.errors import P2CError
from p2c.process import p2c_command

UP_LOG = "up.log"


def _lines_since(path: Path, offset: int) -> list[str]:
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace").splitlines()


def start_detached(args: Sequence[str], data_dir: Path, timeout: float = 300.0) -> None:
    """Run ``p2c up ARGS`` in the background; return once it is ready, print what it printed until then."""
    holder = running_pid(data_dir)
    if holder is not None:
        raise P2CError(f"p2c up (pid {holder}) is already running on {data_dir}: `p2c down --data-dir {data_dir}`")
    log_path = data_dir / "logs" / UP_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            p2c_command("up", *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    click.echo(f"starting p2c up in the background (pid {process.pid}), output in {log_path}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = _lines_since(log_path, offset)
        if any(line.strip() == "ready" for line in lines):
            shown = lines[: [line.strip() for line in lines].index("ready") + 1]
            click.echo("\n".join(line for line in shown if not line[:4].isdigit()))
            click.echo("p2c up runs in the background: `p2c logs` shows the logs, `p2c down` stops it")
            return
        if process.poll() is not None:
            tail = "\n".join(lines[-15:])
            raise P2CError(f"p2c up stopped with code {process.returncode} before it was ready:\n{tail}")
        time.sleep(0.2)
    raise P2CError(f"p2c up was not ready after {timeout:.0f} s; it still runs (pid {process.pid}), see {log_path}")


@click.command()
@options.data_dir
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for it to stop.")
def down(data_dir: Path, timeout: float) -> None:
    """Stop the p2c up running on a data directory (started with --detach, or in another terminal)."""
    pid = running_pid(data_dir)
    if pid is None:
        click.echo(f"p2c is not running on {data_dir}")
        return
    click.echo(f"stopping p2c up (pid {pid})...")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(data_dir) is not None:
        if time.monotonic() > deadline:
            raise P2CError(f"p2c up (pid {pid}) has not stopped after {timeout:.0f} s: `kill -9 {pid}` ends it")
        time.sleep(0.2)
    click.echo("stopped")
