"""``p2c logs``: the component logs of a ``p2c up``, each line prefixed with its component, ``-f`` to follow."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import click

from p2c import options
from p2c.errors import ConfigurationError


def _components(logs: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(logs.glob("*.log"))}


def _tail(path: Path, lines: int) -> tuple[list[str], int]:
    data = path.read_bytes()
    return data.decode(errors="replace").splitlines()[-lines:] if lines else [], len(data)


@click.command()
@click.argument("components", nargs=-1)
@options.data_dir
@click.option("-n", "--lines", default=20, show_default=True, help="Last lines of each log to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
def logs(components: Sequence[str], data_dir: Path, lines: int, follow: bool) -> None:
    """The logs of p2c up's components (all, or the COMPONENTS named: broker, streams, sink-erp, ...)."""
    found = _components(data_dir / "logs")
    if not found:
        raise ConfigurationError(f"no logs in {data_dir / 'logs'}: is {data_dir} the --data-dir of a p2c up?")
    unknown = [c for c in components if c not in found]
    if unknown:
        raise ConfigurationError(f"no log for {', '.join(unknown)}; components: {', '.join(found)}")
    chosen = {name: found[name] for name in components or found}
    width = max(len(name) for name in chosen)
    offsets = {}
    for name, path in chosen.items():
        shown, offsets[name] = _tail(path, lines)
        for line in shown:
            click.echo(f"{name.ljust(width)} | {line}")
    while follow:
        time.sleep(0.5)
        for name, path in chosen.items():
            with open(path, "rb") as fh:
                fh.seek(offsets[name])
                data = fh.read()
            complete = data[: data.rfind(b"\n") + 1]
            offsets[name] += len(complete)
            for line in complete.decode(errors="replace").splitlines():
                click.echo(f"{name.ljust(width)} | {line}")
