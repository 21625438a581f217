"""``p2c templates check|diff``: a customer's own templates and schemas (``p2c.overrides``), before they run.

Exit codes (``p2c.errors``): 0 fine; 1 a file does not fit (each problem names the file, and the field);
2 a setting is wrong (a directory that does not exist); 3 the schema registry did not answer.
"""

from __future__ import annotations

from pathlib import Path

import click

from p2c import options, overrides
from p2c import schemas as contracts
from p2c.errors import EXIT_NO, ConfigurationError
from p2c.settings import RegistrySettings, load
from p2c.streams.customized import own_maps, own_templates, problems, registry_problems


def _configure(config_file: str | None, templates: Path | None, schemas: Path | None) -> overrides.OverrideSettings:
    try:
        return overrides.configure(config_file, templates_dir=templates, schemas_dir=schemas)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from exc


def _in_force(settings: overrides.OverrideSettings) -> str:
    parts = []
    if settings.templates_dir is not None:
        parts.append(f"{len(own_templates())} templates and {len(own_maps())} value maps in {settings.templates_dir}")
    if settings.schemas_dir is not None:
        parts.append(f"{len(contracts.overriding())} schemas in {settings.schemas_dir}")
    return "; ".join(parts) or "no templates or schemas of your own (only the shipped ones)"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def templates() -> None:
    """Your own templates and schemas: check them, and see what they change."""


@templates.command()
@options.templates_dir
@options.schemas_dir
@click.option("--company", default="usmf", help="FinOps legal entity the templates' context values use.")
@click.option(
    "--registry/--no-registry",
    default=True,
    help="Also ask the schema registry whether it takes your schemas (--no-registry: the files alone).",
)
@options.schema_registry_url
@options.config_file
def check(
    templates_dir: Path | None,
    schemas_dir: Path | None,
    company: str,
    registry: bool,
    schema_registry_url: str | None,
    config_file: str | None,
) -> None:
    """Check every template (yours and the shipped ones) against the schemas in force and the flows, your
    schemas against the shipped ones and the registry. Exit 0 all fit, 1 something does not (each problem
    names its file and field), 2 a directory is wrong, 3 the registry did not answer."""
    settings = _configure(config_file, templates_dir, schemas_dir)
    click.echo(_in_force(settings))
    found = problems(company)
    if registry and contracts.overriding():
        from p2c.schemas_cli import Registry

        client = Registry(load(RegistrySettings, "registry", config_file, schema_registry_url=schema_registry_url))
        try:
            found += registry_problems(client)
        finally:
            client.close()
    for problem in found:
        click.echo(f"  - {problem}")
    if found:
        click.echo(f"{len(found)} problem(s): fix the files named, then check again")
        raise SystemExit(EXIT_NO)
    checked = "templates, value maps and schemas fit the contracts and the flows"
    click.echo(f"ok: {checked}{' and the registry' if registry and contracts.overriding() else ''}")


@templates.command()
@options.templates_dir
@options.schemas_dir
@options.config_file
def diff(templates_dir: Path | None, schemas_dir: Path | None, config_file: str | None) -> None:
    """What each of your files changes, compared with the shipped one: keys of templates and value maps
    (a template's field is one key), fields of schemas."""
    from p2c.streams.customized_diff import file_diffs

    settings = _configure(config_file, templates_dir, schemas_dir)
    diffs = list(file_diffs())
    if not diffs:
        click.echo(_in_force(settings))
        return
    for file_diff in diffs:
        click.echo(file_diff.heading())
        width = max((len(c.path) for c in file_diff.changes), default=0)
        for change in file_diff.changes:
            click.echo(f"  {change.kind:<8} {change.path.ljust(width)}  {change.detail}")
