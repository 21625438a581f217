"""``p2c schemas``: register, list, show, diff and check the Avro contracts in a schema registry.

Works against p2c's own registry, Confluent Schema Registry, Karapace or Redpanda: the official
``SchemaRegistryClient`` where it suffices, the REST API through httpx for what it lacks (compatibility
messages, subject-level configuration that may be unset).

Exit codes: 0 done; 1 rejected or incompatible; 2 the schema file is not valid JSON or Avro;
3 the registry could not be reached or answered with an error.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import click
import httpx

from p2c import options
from p2c import schemas as contracts
from p2c.errors import ConfigurationError
from p2c.schemas_diff import InvalidSchema, Parsed, diff, parse, read_problems
from p2c.settings import RegistrySettings, load
from p2c.topics import Topic

# Authlib, under the official client, warns on import when httpx2 is missing: not for a CLI user to see.
with warnings.catch_warnings(record=True):
    from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

T = TypeVar("T")
Version = int | str  # a version number, or "latest"

EXIT_REJECTED = 1
EXIT_INVALID = 2
EXIT_REGISTRY = 3
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
CONFIG_NOT_FOUND = 40408


class Failure(click.ClickException):
    """A ClickException with its own exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _transport_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [httpx.TransportError, OSError]
    try:  # the official client uses httpx2 when it is installed
        import httpx2

        errors.append(httpx2.TransportError)
    except ImportError:
        pass
    return tuple(errors)


TRANSPORT_ERRORS = _transport_errors()


class Registry:
    """The calls ``p2c schemas`` makes, with errors that say what to do next."""

    def __init__(self, settings: RegistrySettings, timeout: float = 10.0) -> None:
        self.url = settings.schema_registry_url.rstrip("/")
        self.client = SchemaRegistryClient(settings.client_config() | {"max.retries": 1, "timeout": timeout})
        auth = settings.schema_registry_basic_auth
        user, _, password = auth.get_secret_value().partition(":") if auth else ("", "", "")
        self.http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            auth=(user, password) if auth else None,
            headers={"Accept": "application/vnd.schemaregistry.v1+json, application/json"},
        )

    def close(self) -> None:
        self.http.close()
        self.client.close()

    @contextmanager
    def _calling(self) -> Iterator[None]:
        try:
            yield
        except TRANSPORT_ERRORS as exc:
            raise Failure(
                f"cannot reach the schema registry at {self.url} ({exc}): is `p2c registry serve` running? "
                "set --schema-registry-url (or P2C_SCHEMA_REGISTRY_URL) to the registry's URL",
                EXIT_REGISTRY,
            ) from exc

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call the official client; SchemaRegistryError passes through for the caller to judge."""
        with self._calling():
            return fn(*args)

    def rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Status code and JSON body of one REST call."""
        with self._calling():
            response = self.http.request(method, path, json=body)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"message": response.text}

    def compatibility_level(self, subject: str | None = None) -> tuple[str, bool]:
        """The subject's compatibility level, else the global one; and whether it is the subject's own."""
        if subject is not None:
            status, body = self.rest("GET", f"/config/{_quote(subject)}")
            if status == 200 and isinstance(body, dict) and "compatibilityLevel" in body:
                return str(body["compatibilityLevel"]), True
        status, body = self.rest("GET", "/config")
        if status != 200:
            raise Failure(
                f"the registry at {self.url} answered GET /config with {status}: {_message(body)}", EXIT_REGISTRY
            )
        return str(body.get("compatibilityLevel", "?")), False

    def version(self, subject: str, version: Version) -> RegisteredSchema:
        try:
            registered: RegisteredSchema = self.call(self.client.get_version, subject, version)
        except SchemaRegistryError as exc:
            if exc.error_code == SUBJECT_NOT_FOUND:
                raise Failure(
                    f"subject {subject} not found; `p2c schemas list` shows the subjects", EXIT_REJECTED
                ) from exc
            if exc.error_code == VERSION_NOT_FOUND:
                versions = self.call(self.client.get_versions, subject)
                raise Failure(
                    f"subject {subject} has no version {version}; it has versions {', '.join(map(str, versions))}",
                    EXIT_REJECTED,
                ) from exc
            raise _registry_failure(exc) from exc
        return registered

    def incompatibilities(self, subject: str, schema_str: str) -> tuple[bool, list[str]]:
        """Whether the registry would accept ``schema_str`` as the next version of ``subject``; why not."""
        path = f"/compatibility/subjects/{_quote(subject)}/versions/latest?verbose=true"
        status, body = self.rest("POST", path, {"schema": schema_str, "schemaType": "AVRO"})
        if status == 404 and body.get("error_code") in (SUBJECT_NOT_FOUND, VERSION_NOT_FOUND):
            return True, []
        if status == 422:
            raise Failure(f"the registry rejects the schema as invalid: {_message(body)}", EXIT_INVALID)
        if status != 200:
            raise Failure(
                f"the registry at {self.url} answered the compatibility check with {status}: {_message(body)}",
                EXIT_REGISTRY,
            )
        messages = [str(m) for m in body.get("messages") or []]
        # Confluent-style registries append the whole old schema and the level: context, not reasons.
        return bool(body.get("is_compatible")), [m for m in messages if not m.startswith(_CONTEXT_MESSAGES)]


_CONTEXT_MESSAGES = ("{oldSchema:", "{oldSchemaVersion:", "{compatibility:")


def _quote(subject: str) -> str:
    return quote(subject, safe="")


def _message(body: Any) -> str:
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)


def _registry_failure(exc: SchemaRegistryError) -> Failure:
    return Failure(
        f"the schema registry answered {exc.http_status_code} (error {exc.error_code}): {exc.error_message}",
        EXIT_REGISTRY,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned on the widest cell, two spaces apart."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines)


class VersionParam(click.ParamType):
    name = "N|latest"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Version:
        if value == "latest" or (isinstance(value, int) and value > 0):
            return value  # type: ignore[no-any-return]
        if isinstance(value, str) and value.isdigit() and int(value) > 0:
            return int(value)
        self.fail(f"{value!r} is not a version: give a number from 1 up, or 'latest'", param, ctx)


VERSION = VersionParam()


def _registry(url: str) -> Registry:
    """The registry at ``url`` (with P2C_* settings such as basic auth), closed when the command ends."""
    try:
        registry = Registry(load(RegistrySettings, schema_registry_url=url))
    except (ConfigurationError, ValueError) as exc:
        raise Failure(f"{exc}; check --schema-registry-url", EXIT_REGISTRY) from exc
    click.get_current_context().call_on_close(registry.close)
    return registry


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def schemas() -> None:
    """Register, list, show, diff and check the Avro schemas of p2c's topics (subjects `<topic>-value`).

    Works against any Confluent-compatible registry. Exit codes: 0 done, 1 rejected or incompatible,
    2 invalid schema file, 3 registry unreachable or failing.
    """


@dataclass(frozen=True)
class Outcome:
    subject: str
    version: int | str
    id: int | str
    status: str
    reasons: tuple[str, ...] = ()


def register_one(registry: Registry, subject: str, schema_str: str) -> Outcome:
    """Register ``schema_str`` under ``subject`` unless it already is there."""
    schema = Schema(schema_str, "AVRO")
    try:
        found: RegisteredSchema = registry.call(registry.client.lookup_schema, subject, schema)
        return Outcome(subject, found.version or "?", found.schema_id or "?", "unchanged")
    except SchemaRegistryError as exc:
        if exc.http_status_code != 404:
            raise _registry_failure(exc) from exc
    try:
        registry.call(registry.client.register_schema, subject, schema)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 409:
            _, reasons = registry.incompatibilities(subject, schema_str)
            return Outcome(subject, "-", "-", "rejected", tuple(reasons) or (exc.error_message,))
        if exc.http_status_code == 422:
            return Outcome(subject, "-", "-", "rejected", (f"invalid schema: {exc.error_message}",))
        raise _registry_failure(exc) from exc
    registered: RegisteredSchema = registry.call(registry.client.lookup_schema, subject, schema)
    return Outcome(subject, registered.version or "?", registered.schema_id or "?", "registered")


@schemas.command(short_help="Register every schema in schemas/ (idempotent).")
@options.schema_registry_url
def register(schema_registry_url: str) -> None:
    """Register every schema in schemas/ under `<topic>-value`. Idempotent: an unchanged schema keeps its
    version and id. Sets nothing else (compatibility stays the registry's). Exit 1 if one is rejected."""
    registry = _registry(schema_registry_url)
    outcomes = [
        register_one(registry, Topic(topic).subject, json.dumps(contracts.load(topic))) for topic in contracts.topics()
    ]
    click.echo(
        table(("subject", "version", "id", "status"), [(o.subject, o.version, o.id, o.status) for o in outcomes])
    )
    rejected = [o for o in outcomes if o.reasons]
    for outcome in rejected:
        click.echo(f"\n{outcome.subject} was rejected:", err=True)
        for reason in outcome.reasons:
            click.echo(f"  - {reason}", err=True)
    if rejected:
        raise Failure(
            f"{len(rejected)} schema(s) rejected: make the change compatible (e.g. give new fields "
            "a default), and check it first with `p2c schemas check FILE --subject SUBJECT`",
            EXIT_REJECTED,
        )


@schemas.command(name="list", short_help="Subjects, latest version, id and compatibility level.")
@options.schema_registry_url
def list_(schema_registry_url: str) -> None:
    """Every subject with its latest version, schema id and compatibility level (the subject's own, else
    the global one, marked "(global)")."""
    registry = _registry(schema_registry_url)
    try:
        subjects: list[str] = registry.call(registry.client.get_subjects)
    except SchemaRegistryError as exc:
        raise _registry_failure(exc) from exc
    if not subjects:
        click.echo(f"no subjects in the registry at {registry.url}: run `p2c schemas register`")
        return
    rows = []
    for subject in sorted(subjects):
        latest = registry.version(subject, "latest")
        level, own = registry.compatibility_level(subject)
        rows.append((subject, latest.version, latest.schema_id, level if own else f"{level} (global)"))
    click.echo(table(("subject", "version", "id", "compatibility"), rows))


@schemas.command(short_help="Print a version of a subject's schema.")
@click.argument("subject")
@click.option("--version", "version", type=VERSION, default="latest", help="Version number, or latest.")
@options.schema_registry_url
def show(subject: str, version: Version, schema_registry_url: str) -> None:
    """Print one version of SUBJECT's schema, pretty-printed, under a header line."""
    registered = _registry(schema_registry_url).version(subject, version)
    click.echo(f"# subject {subject}  version {registered.version}  id {registered.schema_id}")
    click.echo(json.dumps(json.loads(registered.schema.schema_str or "null"), indent=2))


def _parse_registered(registered: RegisteredSchema) -> Parsed:
    try:
        return parse(registered.schema.schema_str or "")
    except InvalidSchema as exc:
        raise Failure(f"version {registered.version} of {registered.subject} is not Avro: {exc}", EXIT_INVALID) from exc


@schemas.command(name="diff", short_help="Fields added, removed and changed between two versions.")
@click.argument("subject")
@click.argument("a", type=VERSION)
@click.argument("b", type=VERSION)
@options.schema_registry_url
def diff_(subject: str, a: Version, b: Version, schema_registry_url: str) -> None:
    """Fields added, removed and changed from version A to version B of SUBJECT (numbers or latest), with
    dotted paths into nested records, and whether each version can read the other's data."""
    registry = _registry(schema_registry_url)
    old, new = registry.version(subject, a), registry.version(subject, b)
    old_parsed, new_parsed = _parse_registered(old), _parse_registered(new)
    click.echo(f"{subject}: version {old.version} (id {old.schema_id}) -> version {new.version} (id {new.schema_id})")
    changes = diff(old_parsed, new_parsed)
    click.echo(
        table(("change", "field", "detail"), [(c.kind, c.path, c.detail) for c in changes])
        if changes
        else "no field changes"
    )
    for reader, writer, r, w in ((new_parsed, old_parsed, new, old), (old_parsed, new_parsed, old, new)):
        problems = read_problems(reader, writer)
        click.echo(f"version {r.version} reads data written with version {w.version}: {'no' if problems else 'yes'}")
        for problem in problems:
            click.echo(f"  - {problem}")


@schemas.command(short_help="Would the registry accept this schema file?")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--subject", required=True, help="Subject the schema would be registered under, e.g. p2c.src.crm.accounts-value."
)
@options.schema_registry_url
def check(file: Path, subject: str, schema_registry_url: str) -> None:
    """Would the registry accept FILE as the next version of SUBJECT? Asks the registry to test it against the
    latest version under the subject's compatibility level. Exit 0 compatible, 1 incompatible, 2 invalid
    FILE."""
    try:
        text = file.read_text(encoding="utf-8")
        parsed = parse(text)
    except (InvalidSchema, UnicodeDecodeError) as exc:
        raise Failure(f"{file}: {exc}", EXIT_INVALID) from exc
    registry = _registry(schema_registry_url)
    compatible, reasons = registry.incompatibilities(subject, json.dumps(json.loads(text)))
    level, _ = registry.compatibility_level(subject)
    if compatible:
        click.echo(f"compatible ({level})")
        return
    click.echo(f"incompatible ({level}) with the latest version of {subject}:")
    for reason in reasons:
        click.echo(f"  - {reason}")
    local = local_reasons(registry, subject, parsed, level)
    if local:
        click.echo("field by field:")
    for reason in local:
        click.echo(f"  - {reason}")
    if not reasons and not local:
        click.echo("  - the registry gave no reason")
    raise SystemExit(EXIT_REJECTED)


def local_reasons(registry: Registry, subject: str, candidate: Parsed, level: str) -> list[str]:
    """Why ``candidate`` does not fit the latest version under ``level``, worked out here with field paths."""
    latest = _parse_registered(registry.version(subject, "latest"))
    reasons = []
    if level.startswith(("BACKWARD", "FULL")):
        reasons += [f"the new schema cannot read old data: {p}" for p in read_problems(candidate, latest)]
    if level.startswith(("FORWARD", "FULL")):
        reasons += [f"the old schema cannot read new data: {p}" for p in read_problems(latest, candidate)]
    return reasons
