"""``p2c setup crm``: what p2c needs of a Sales tenant, per table, and what is missing; ``--apply`` sets up what
a maker could (change tracking, alternate keys) and waits for the key indexes to become Active."""

from __future__ import annotations

import click

from p2c import logs, options
from p2c.errors import ConfigurationError
from p2c.settings import load


@click.group(context_settings={"show_default": True})
def setup() -> None:
    """Check (and set up) what p2c needs of a tenant."""


@setup.command("crm")
@click.option("--crm-url", default=None, help="CRM root URL (env P2C_CRM_URL) [default: http://127.0.0.1:8701].")
@click.option("--apply", "apply_", is_flag=True, help="Turn change tracking on and create the missing keys.")
@click.option("--key-timeout", type=float, default=600.0, help="Seconds to wait for a new key's index.")
@options.config_file
def crm(crm_url: str | None, apply_: bool, key_timeout: float, config_file: str | None) -> None:
    """Report, per CRM table, what p2c needs (change tracking, the keys it upserts by, the columns it selects
    and writes) and what is missing."""
    from p2c.connectors.dataverse.settings import CrmSourceSettings
    from p2c.connectors.dataverse.setup import TenantSetup, needs
    from p2c.connectors.dataverse.streams import streams_for

    logs.configure()
    settings = load(CrmSourceSettings, "source.crm", config_file, url=crm_url)
    try:
        streams = streams_for(settings.entity_list)
    except KeyError as exc:
        raise click.ClickException(f"[source.crm] entities: {exc.args[0]}") from exc
    wanted = needs([s.entity_set for s in streams], sink=True)
    client = settings.client("crm setup")
    try:
        tenant = TenantSetup(client)
        for entity_set, need in sorted(wanted.items()):
            what = [f"{len(need.columns)} columns"]
            if need.tracking:
                what.append("change tracking")
            what += [f"key on {', '.join(cols)}" for cols in need.keys.values()]
            click.echo(f"{entity_set}: p2c needs {', '.join(what)}")
        problems = tenant.apply(wanted, key_timeout) if apply_ else tenant.problems(wanted)
    finally:
        client.close()
    if not problems:
        click.echo("ready: the CRM has everything p2c needs")
        return
    for problem in problems:
        click.echo(f"missing: {problem}")
    raise ConfigurationError(
        f"{len(problems)} thing(s) missing"
        + ("" if apply_ else "; `p2c setup crm --apply` sets up change tracking and keys")
    )
