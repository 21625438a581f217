"""``p2c reconcile [FLOW...]``: compare both systems through their APIs and list every difference.

It runs the library itself (it needs the CRM and the ERP, not Kafka nor a running p2c), the same code the
control API's ``POST /api/reconciles`` runs. Exit 0: in sync; 1: differences; 2: configuration; 3: a system
did not answer.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

from p2c import logs, options
from p2c.control.reconcile.run import Reconcile, Report, Systems
from p2c.errors import EXIT_NO
from p2c.flows import NAMES
from p2c.settings import load


def systems(crm_url: str | None, erp_url: str | None, company: str | None, config_file: str | None) -> Systems:
    """The CRM and ERP clients as the connectors build them ([source.crm], [sink.erp], P2C_CRM_*, P2C_ERP_*)."""
    from p2c.connectors.dataverse.settings import CrmSourceSettings
    from p2c.connectors.finops.settings import ErpSinkSettings
    from p2c.streams.settings import StreamsSettings

    crm = load(CrmSourceSettings, "source.crm", config_file, url=crm_url)
    erp = load(ErpSinkSettings, "sink.erp", config_file, url=erp_url)
    # p2c up hands its --company to the processes it starts as P2C_COMPANY
    streams = load(StreamsSettings, "streams", config_file, company=company or os.environ.get("P2C_COMPANY"))
    return Systems(lambda: crm.client("crm reconcile"), lambda: erp.client("erp reconcile"), streams.company)


class StderrProgress:
    """One line per stage on stderr, rewritten in place on a terminal, else at most every 5 s."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.stage = ""
        self.shown = 0.0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if stage == self.stage and not finished and now - self.shown < (0.2 if self.tty else 5.0):
            return
        self.stage, self.shown = stage, now
        text = f"{stage}: {done}" + (f"/{total}" if total is not None else "")
        if self.tty:
            click.echo(f"\r\033[K{text}", nl=finished, err=True)
        else:
            click.echo(text, err=True)


def show(report: Report) -> None:
    for flow in report.flows:
        counts = ", ".join(f"{n} {kind}" for kind, n in flow.differences.items()) or "in sync"
        skipped = sum(flow.skipped.values())
        waiting = sum(flow.waiting.values())
        click.echo(
            f"{flow.flow:<9} {flow.expected} target rows expected: {counts} ({skipped} skipped, {waiting} waiting)"
        )
    for difference in report.differences:
        click.echo(difference.line())
    if report.total > len(report.differences):
        click.echo(f"... and {report.total - len(report.differences)} more (--limit)")
    if report.rejected.count:
        click.echo(f"{report.rejected.count} source rows the flows cannot take (dead-lettered): see p2c dlq list")
    verdict = "in sync" if report.in_sync else f"{report.total} differences"
    click.echo(f"{verdict} ({report.seconds:.1f} s)")


@click.command(context_settings={"show_default": True})
@click.argument("flow_names", metavar="[FLOW]...", nargs=-1, type=click.Choice(NAMES))
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document.")
@click.option("--limit", type=click.IntRange(min=0), default=10_000, help="Differences listed at most (all counted).")
@click.option("--crm-url", default=None, help="CRM root URL (env P2C_CRM_URL) [default: http://127.0.0.1:8701].")
@click.option("--erp-url", default=None, help="ERP root URL (env P2C_ERP_URL) [default: http://127.0.0.1:8702].")
@click.option(
    "--company", default=None, help="FinOps legal entity of the flows (env P2C_STREAMS_COMPANY) [default: usmf]."
)
@options.config_file
def reconcile(
    flow_names: tuple[str, ...],
    as_json: bool,
    limit: int,
    crm_url: str | None,
    erp_url: str | None,
    company: str | None,
    config_file: str | None,
) -> None:
    """Read both systems through their APIs, apply the flows' templates and list every difference: missing in
    the target, extra in the target, fields that differ. Exit 0 in sync, 1 with differences."""
    logs.configure("WARNING")
    report = Reconcile(systems(crm_url, erp_url, company, config_file), progress=StderrProgress(), limit=limit).run(
        list(flow_names)
    )
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        show(report)
    if not report.in_sync:
        sys.exit(EXIT_NO)
