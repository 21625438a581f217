"""``p2c sandbox``: the Dataverse-like CRM and FinOps-like ERP services, and their sample data."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import click

from p2c import logs
from p2c.sandbox.odata.auth import DEFAULT_CLIENTS, parse_client
from p2c.sandbox.tenant_columns import CRM_ENV, ERP_ENV

log = logging.getLogger("p2c.sandbox")


def _tenant_columns(variable: str, path: Path | None) -> None:
    """The tables are made once, on first import, from the variable: set it from the option first."""
    if path is not None:
        os.environ[variable] = str(path.resolve())
    try:
        importlib.import_module("p2c.sandbox.crm.entities" if variable == CRM_ENV else "p2c.sandbox.erp.entities")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--custom-columns / --extension-fields") from exc
    if path is not None:
        log.info("the tenant's own columns: %s", path)


def _clients(specs: tuple[str, ...]) -> dict[str, str]:
    try:
        pairs = [parse_client(s) for s in specs] or list(DEFAULT_CLIENTS)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--client") from exc
    return dict(pairs)


_client_option = click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="ID:SECRET",
    help="OAuth2 client allowed to get tokens (repeatable). "
    f"Default: {' and '.join(':'.join(c) for c in DEFAULT_CLIENTS)} (the integration, and a person).",
)
_rate_option = click.option(
    "--rate-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per second per client before 429 + Retry-After. Default: off.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def sandbox() -> None:
    """Dataverse-like CRM and FinOps-like ERP services on SQLite, with sample data."""


_TABLES = ("account", "contact", "product", "quote", "quotedetail", "pricelevel", "productpricelevel", "uom")


@sandbox.command()
@click.option("--host", default="127.0.0.1", help="Interface to listen on.")
@click.option("--port", default=8701, type=int, help="TCP port.")
@click.option(
    "--data-dir", default=Path("./.p2c/crm"), type=click.Path(path_type=Path), help="Where the SQLite file lives."
)
@_rate_option
@click.option(
    "--delta-token-ttl", default=7 * 24 * 3600, type=float, help="Seconds a change-tracking delta token stays valid."
)
@_client_option
@click.option(
    "--client-cert",
    "cert_clients",
    multiple=True,
    metavar="ID:CERT.pem",
    help="OAuth2 client that signs in with a certificate (a client assertion signed with its key; repeatable).",
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a self-signed certificate made at start (tls-cert.pem).")
@click.option(
    "--service-protection",
    type=click.FloatRange(min=0.001),
    default=None,
    help="Enforce Dataverse's service protection limits scaled by this factor (1: 6000 requests and 1200 s of "
    "execution per 300 s, 52 concurrent; 0.1: a tenth, per 30 s). Default: off.",
)
@click.option(
    "--without-change-tracking",
    multiple=True,
    type=click.Choice(_TABLES),
    help="A new data directory: this table has no change tracking (repeatable).",
)
@click.option(
    "--without-key",
    multiple=True,
    type=click.Choice(["account", "contact", "product"]),
    help="A new data directory: this table lacks the alternate key p2c upserts by (repeatable).",
)
@click.option("--products-active", is_flag=True, help="A new data directory: Sales creates products active, not Draft.")
@click.option(
    "--custom-columns",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=CRM_ENV,
    show_envvar=True,
    default=None,
    help="TOML file of the tenant's own custom columns ([[column]] table, name, type): see sandbox/README.md.",
)
def crm(
    host: str,
    port: int,
    data_dir: Path,
    rate_limit: int | None,
    delta_token_ttl: float,
    clients: tuple[str, ...],
    cert_clients: tuple[str, ...],
    tls: bool,
    service_protection: float | None,
    without_change_tracking: tuple[str, ...],
    without_key: tuple[str, ...],
    products_active: bool,
    custom_columns: Path | None,
) -> None:
    """Serve the Dataverse Web API (/api/data/v9.2/) of a Sales organization."""
    _tenant_columns(CRM_ENV, custom_columns)  # before the tables are made
    from p2c.sandbox.crm.app import API_PATH, Tenant, create_app
    from p2c.sandbox.crm.store import application_user_id
    from p2c.sandbox.odata.auth import parse_certificate_client
    from p2c.sandbox.odata.tls import server_context
    from p2c.sandbox.server import serve

    logs.configure()
    allowed = _clients(clients) if clients or not cert_clients else {}
    try:
        certificates = dict(parse_certificate_client(c) for c in cert_clients)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--client-cert") from exc
    tenant = Tenant(without_change_tracking, without_key, products_active)
    app, store = create_app(
        data_dir,
        allowed,
        rate_limit,
        delta_token_ttl,
        certificates=certificates,
        tenant=tenant,
        protection=service_protection,
    )
    log.info("CRM store %s", store.db.path.resolve())
    log.info("CRM rows: %s", _counts(store.conn, ["accounts", "contacts", "products", "quotes", "quotedetails"]))
    for client_id in [*allowed, *certificates]:
        log.info("client %s -> application user %s", client_id, application_user_id(client_id))
    untracked = [t for t in _TABLES if not store.custom.tracked(t)]
    log.info("tables without change tracking: %s", ", ".join(untracked) or "none")
    for table in ("account", "contact", "product"):
        keys = ", ".join(f"{k.schema_name}({','.join(k.attributes)}) {k.status}" for k in store.custom.keys(table))
        log.info("alternate keys of %s: %s", table, keys or "none")
    context, scheme = None, "http"
    if tls:
        context, cert_file = server_context(data_dir, "p2c CRM sandbox")
        scheme = "https"
        log.info("HTTPS with a self-signed certificate: %s (trust it with REQUESTS_CA_BUNDLE)", cert_file.resolve())
    log.info(
        "token endpoint %s://%s:%d/<tenant>/oauth2/v2.0/token; rate limit %s; service protection %s",
        scheme,
        host,
        port,
        rate_limit or "off",
        f"x{service_protection}" if service_protection else "off",
    )
    serve(app, host, port, f"CRM Web API at {scheme}://{host}:{port}{API_PATH}", context)


def _counts(conn: object, tables: list[str]) -> str:
    import sqlite3

    assert isinstance(conn, sqlite3.Connection)
    return ", ".join(f"{conn.execute(f'SELECT COUNT(*) FROM {t}').fetchone()[0]} {t}" for t in tables)


@sandbox.command()
@click.option("--host", default="127.0.0.1", help="Interface to listen on.")
@click.option("--port", default=8702, type=int, help="TCP port.")
@click.option(
    "--data-dir", default=Path("./.p2c/erp"), type=click.Path(path_type=Path), help="Where the SQLite file lives."
)
@_rate_option
@click.option(
    "--business-errors",
    default="400",
    type=click.Choice(["400", "500"]),
    help="500: answer a record's business error as FinOps can (HTTP 500, the Infolog in innererror) and stop "
    "a $batch at the first failed change set.",
)
@click.option("--max-batch-parts", default=100, type=click.IntRange(min=1), help="Requests one $batch may hold.")
@_client_option
@click.option(
    "--extension-fields",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=ERP_ENV,
    show_envvar=True,
    default=None,
    help="TOML file of the environment's own extension fields ([[field]] entity, name, type): see sandbox/README.md.",
)
def erp(
    host: str,
    port: int,
    data_dir: Path,
    rate_limit: int | None,
    business_errors: str,
    max_batch_parts: int,
    clients: tuple[str, ...],
    extension_fields: Path | None,
) -> None:
    """Serve the Finance and Operations OData API (/data/) of an environment with company usmf."""
    _tenant_columns(ERP_ENV, extension_fields)  # before the entities are made
    from p2c.sandbox.erp.app import API_PATH, create_app
    from p2c.sandbox.server import serve

    logs.configure()
    allowed = _clients(clients)
    app, store = create_app(
        data_dir, allowed, rate_limit, business_errors=int(business_errors), max_batch_parts=max_batch_parts
    )
    log.info("ERP store %s", store.db.path.resolve())
    log.info(
        "ERP rows: %s",
        _counts(
            store.conn,
            [
                "customersv3",
                "cdscontactpersonsv2",
                "cdssalesquotationheaders",
                "cdssalesquotationlines",
                "cdsreleaseddistinctproducts",
            ],
        ),
    )
    log.info(
        "clients: %s; default company usmf; rate limit %s; business errors as HTTP %s; $batch of at most %d parts",
        ", ".join(allowed),
        rate_limit or "off",
        business_errors,
        max_batch_parts,
    )
    serve(app, host, port, f"FinOps OData at http://{host}:{port}{API_PATH}")


@sandbox.command()
@click.option(
    "--data-dir", default=Path("./.p2c"), type=click.Path(path_type=Path), help="Holds the crm/ and erp/ stores."
)
@click.option("--accounts", default=300, type=click.IntRange(min=0), help="CRM accounts.")
@click.option("--contacts", default=300, type=click.IntRange(min=0), help="CRM contacts.")
@click.option("--products", default=200, type=click.IntRange(min=0), help="ERP released products.")
@click.option("--quotes", default=200, type=click.IntRange(min=0), help="CRM quotes (1-5 lines each).")
@click.option("--lines", type=click.IntRange(min=1), help="Lines per quote [default: 1-5 at random].")
@click.option("--seed", "seed_value", default=42, type=int, help="Random seed: the same seed, the same data.")
def seed(
    data_dir: Path, accounts: int, contacts: int, products: int, quotes: int, lines: int | None, seed_value: int
) -> None:
    """Write sample business data into both stores (idempotent; safe while the servers run)."""
    from p2c.sandbox.seed import SeedCounts
    from p2c.sandbox.seed import seed as run_seed

    logs.configure()
    added = run_seed(data_dir, SeedCounts(accounts, contacts, products, quotes, lines), seed_value)
    summary = ", ".join(f"{n} {name}" for name, n in sorted(added.items())) or "nothing new"
    log.info("seeded %s: %s", data_dir.resolve(), summary)
