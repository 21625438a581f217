"""``p2c source run crm|erp`` and ``p2c sink run erp|crm``: options in, ``connectors.launch`` does the rest."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from p2c import logs, options
from p2c.errors import ConfigurationError, P2CError
from p2c.settings import KafkaSettings, RegistrySettings, load

log = logging.getLogger("p2c.connectors")


def _common(bootstrap_servers: str, schema_registry_url: str, config_file: str | None) -> tuple[Any, Any]:
    kafka = load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)
    registry = load(RegistrySettings, "registry", config_file, schema_registry_url=schema_registry_url)
    return kafka, registry


def _fail(exc: P2CError) -> None:
    log.error("%s", exc)
    sys.exit(2 if isinstance(exc, ConfigurationError) else 1)


@click.group(context_settings={"show_default": True})
def source() -> None:
    """Run a source connector: a change feed to Kafka."""


@source.command("run")
@click.argument("connector", type=click.Choice(["crm", "erp"]))
@click.option(
    "--entities",
    default=None,
    help="Comma-separated entity sets [default: every entity set the flows read from CONNECTOR].",
)
@click.option("--crm-url", default=None, help="CRM root URL (env P2C_CRM_URL) [default: http://127.0.0.1:8701].")
@click.option("--erp-url", default=None, help="ERP root URL (env P2C_ERP_URL) [default: http://127.0.0.1:8702].")
@click.option("--company", default=None, help="erp: poll only this legal entity (dataAreaId) [default: all].")
@click.option(
    "--cross-company/--no-cross-company",
    default=None,
    help="erp: poll every legal entity (?cross-company=true) [default: cross-company].",
)
@click.option(
    "--poll-interval", type=float, default=None, help="Seconds between polls (erp: snapshots) [default: 1.0]."
)
@click.option(
    "--snapshot-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="erp: where the last product snapshot is kept [default: ./.p2c/state/source-erp].",
)
@options.bootstrap_servers
@options.schema_registry_url
@options.config_file
def source_run(
    connector: str,
    entities: str | None,
    crm_url: str | None,
    erp_url: str | None,
    company: str | None,
    cross_company: bool | None,
    poll_interval: float | None,
    snapshot_dir: Path | None,
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
) -> None:
    """Publish the CONNECTOR's changes (full load, then changes) as Avro change events."""
    logs.configure()
    from p2c.connectors import launch
    from p2c.connectors.dataverse.settings import CrmSourceSettings
    from p2c.connectors.finops.settings import ErpSourceSettings

    try:
        kafka, registry = _common(bootstrap_servers, schema_registry_url, config_file)
        if connector == "crm":
            crm = load(
                CrmSourceSettings,
                "source.crm",
                config_file,
                url=crm_url,
                entities=entities,
                poll_interval=poll_interval,
            )
            launch.run_crm_source(crm, kafka, registry)
        else:
            erp = load(
                ErpSourceSettings,
                "source.erp",
                config_file,
                url=erp_url,
                entities=entities,
                company=company,
                cross_company=cross_company,
                poll_interval=poll_interval,
                snapshot_dir=snapshot_dir,
            )
            launch.run_erp_source(erp, kafka, registry)
    except P2CError as exc:
        _fail(exc)


@click.group(context_settings={"show_default": True})
def sink() -> None:
    """Run a sink connector: Kafka target topics to the CRM or the ERP."""


@sink.command("run")
@click.argument("connector", type=click.Choice(["erp", "crm"]))
@click.option(
    "--targets",
    default=None,
    help="Comma-separated targets to write [default: every target the flows write into CONNECTOR].",
)
@click.option("--erp-url", default=None, help="ERP root URL (env P2C_ERP_URL) [default: http://127.0.0.1:8702].")
@click.option("--crm-url", default=None, help="CRM root URL (env P2C_CRM_URL) [default: http://127.0.0.1:8701].")
@click.option("--company", default=None, help="erp: dataAreaId for records without one [default: usmf].")
@click.option("--batch-size", type=int, default=None, help="Records per batch [default: 1000].")
@click.option("--batch-ms", type=int, default=None, help="Milliseconds to wait for a batch to fill [default: 200].")
@click.option(
    "--hold-timeout",
    type=float,
    default=None,
    help="erp: seconds a record waits for its customer or product before it is dead-lettered [default: 60].",
)
@click.option("--batch-parts", type=int, default=None, help="erp: requests per $batch [default: 100].")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the applied version per target key is kept [default: ./.p2c/state/sink-erp or sink-crm].",
)
@options.bootstrap_servers
@options.schema_registry_url
@options.config_file
def sink_run(
    connector: str,
    targets: str | None,
    erp_url: str | None,
    crm_url: str | None,
    company: str | None,
    batch_size: int | None,
    batch_ms: int | None,
    hold_timeout: float | None,
    batch_parts: int | None,
    state_dir: Path | None,
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
) -> None:
    """Write CONNECTOR's target topics into it, in $batch requests, committing after each."""
    logs.configure()
    from p2c.connectors import launch
    from p2c.connectors.dataverse.settings import CrmSinkSettings
    from p2c.connectors.finops.settings import ErpSinkSettings

    try:
        kafka, registry = _common(bootstrap_servers, schema_registry_url, config_file)
        if connector == "erp":
            erp = load(
                ErpSinkSettings,
                "sink.erp",
                config_file,
                url=erp_url,
                targets=targets,
                company=company,
                batch_size=batch_size,
                batch_ms=batch_ms,
                hold_timeout=hold_timeout,
                batch_parts=batch_parts,
                sink_state_dir=state_dir,
            )
            launch.run_erp_sink(erp, kafka, registry)
        else:
            crm = load(
                CrmSinkSettings,
                "sink.crm",
                config_file,
                url=crm_url,
                targets=targets,
                batch_size=batch_size,
                batch_ms=batch_ms,
                sink_state_dir=state_dir,
            )
            launch.run_crm_sink(crm, kafka, registry)
    except P2CError as exc:
        _fail(exc)
