"""``p2c dlq list|show|retry|discard``: the dead letters' lifecycle from a terminal.

A client of the same library code as the control API and the console (control/deadletters.py), so the three
always agree: a letter retried from the console is retried here too (the state lives in p2c.dlq-state).
"""

from __future__ import annotations

import base64
import getpass
import json

import click

from p2c import logs, options
from p2c.control.deadletters import DeadLetters
from p2c.control.lifecycle import STATES
from p2c.control.waits import read_waiting_for, waited_on_by
from p2c.flows import NAMES
from p2c.reachable import require_kafka
from p2c.settings import KafkaSettings, load


def _letters(bootstrap_servers: str | None, config_file: str | None) -> DeadLetters:
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    require_kafka(kafka)
    return DeadLetters(kafka)


@click.group(context_settings={"show_default": True})
def dlq() -> None:
    """Dead letters: list, show, retry once the cause is fixed, or discard with a note."""


@dlq.command(name="list")
@click.option("--flow", type=click.Choice(NAMES), multiple=True, help="Only these flows (default: all).")
@click.option("--state", type=click.Choice(STATES), multiple=True, help="Only these states (default: all).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of letters ([] when there is none).")
@options.bootstrap_servers
@options.config_file
def list_(
    flow: tuple[str, ...], state: tuple[str, ...], as_json: bool, bootstrap_servers: str | None, config_file: str | None
) -> None:
    """Every dead letter: when, flow, key, stage, state, and why."""
    logs.configure("WARNING")
    letters = _letters(bootstrap_servers, config_file)
    entries = letters.entries(flow or None, state or None)
    waiting = waited_on_by(entries, read_waiting_for(letters.kafka)) if entries else {}
    if as_json:
        click.echo(json.dumps([e.as_json() | {"waited_on_by": waiting.get(e.id, [])} for e in entries], indent=2))
        return
    if not entries:
        click.echo("no dead letters")
        return
    header = ("time", "id", "key", "stage", "state", "reason")
    rows = [
        (e.time, e.id, e.key, e.stage, e.state, e.reason + (f" ({e.why})" if e.why else "") + _waiting(waiting, e.id))
        for e in entries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5])


@dlq.command()
@click.argument("letter_id")
@options.bootstrap_servers
@options.config_file
def show(letter_id: str, bootstrap_servers: str | None, config_file: str | None) -> None:
    """One dead letter (LETTER_ID is <flow>.<partition>.<offset>, as `list` prints), as JSON."""
    logs.configure("WARNING")
    letters = _letters(bootstrap_servers, config_file)
    letter, entry = letters.get(letter_id)
    value = letter.letter.value or b""
    waiting = waited_on_by([entry], read_waiting_for(letters.kafka)).get(entry.id, [])
    doc = entry.as_json() | {"waited_on_by": waiting, "value_base64": base64.b64encode(value).decode()}
    click.echo(json.dumps(doc, indent=2))


def _waiting(waiting: dict[str, list[str]], letter_id: str) -> str:
    records = waiting.get(letter_id, [])
    return (
        f"; waited on by {len(records)}: {', '.join(records[:3])}{' ...' if len(records) > 3 else ''}"
        if records
        else ""
    )


@dlq.command()
@click.argument("letter_ids", nargs=-1)
@click.option("--flow", type=click.Choice(NAMES), multiple=True, help="Only these flows (default: all).")
@options.bootstrap_servers
@options.config_file
def retry(
    letter_ids: tuple[str, ...], flow: tuple[str, ...], bootstrap_servers: str | None, config_file: str | None
) -> None:
    """Send dead letters back to where they came from, once the cause is fixed: the given LETTER_IDS, else the
    newest open letter of every key."""
    logs.configure("WARNING")
    results = _letters(bootstrap_servers, config_file).retry(letter_ids, flow or None, by=getpass.getuser())
    for r in results:
        click.echo(f"{r.id}: sent back to {r.sent_to}")
    click.echo(f"{len(results)} dead letter(s) sent back")


@dlq.command()
@click.argument("letter_id")
@click.option("--note", required=True, help="Why it is discarded: kept with the letter.")
@options.bootstrap_servers
@options.config_file
def discard(letter_id: str, note: str, bootstrap_servers: str | None, config_file: str | None) -> None:
    """Put a dead letter aside for good, with a note."""
    logs.configure("WARNING")
    entry = _letters(bootstrap_servers, config_file).discard(letter_id, note, getpass.getuser())
    click.echo(f"{entry.id}: {entry.state} ({entry.why})")
