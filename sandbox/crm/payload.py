"""A Dataverse request body -> column values: property names, types, lookups set with ``@odata.bind``.

``"parentcustomerid_account@odata.bind": "/accounts(<guid>)"`` (or ``parentcustomerid@odata.bind``, or an
alternate key: ``/products(productnumber='P-1')``) sets ``_parentcustomerid_value`` and remembers the
target's logical name. Errors name the property, as Dataverse does.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from p2c.sandbox.crm.entities import BY_LOGICAL, BY_SET
from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.keys import parse_segment, split_path
from p2c.sandbox.odata.model import EntitySet, Field
from p2c.sandbox.odata.sqlite import fetch_one
from p2c.sandbox.odata.values import ValueError_, to_db

API_PATH = "/api/data/v9.2/"


class KeySource(Protocol):
    """The tenant's active alternate keys (see :mod:`p2c.sandbox.crm.customization`)."""

    def active_keys(self, table: str) -> list[tuple[str, ...]]: ...


def _bad(message: str, code: str = codes.PAYLOAD_ERROR) -> ODataError:
    return ODataError(400, message, code)


def key_of(entity: EntitySet, key: Any, keys: KeySource) -> dict[str, Any]:
    """A URL key (a GUID, or alternate key pairs) -> column values identifying one row."""
    pk = entity.key[0]
    if not isinstance(key, dict):
        return {pk: _guid(entity.by_name[pk], key)}
    if set(key) == {pk}:
        return {pk: _guid(entity.by_name[pk], key[pk])}
    if tuple(sorted(key)) not in {tuple(sorted(ak)) for ak in keys.active_keys(entity.logical_name)}:
        raise ODataError(
            400,
            f"Invalid key: {', '.join(key)} is not an alternate key of {entity.logical_name}: no active alternate "
            f"key has exactly these attributes.",
            codes.QUERY_NOT_SUPPORTED,
        )
    return {name: str(value) for name, value in key.items()}


def _guid(field: Field, value: Any) -> str:
    try:
        return str(to_db(field, str(value)))
    except ValueError_ as exc:
        raise _bad(f"Invalid key value '{value}' for '{field.name}': a GUID is expected.") from exc


def resolve_reference(ref: str, conn: sqlite3.Connection, keys: KeySource) -> tuple[EntitySet, dict[str, Any]]:
    """``/accounts(<guid>)`` (any URL form) -> (entity set, primary key); the row must exist."""
    path = unquote(urlsplit(ref).path)
    if API_PATH in path:
        path = path.split(API_PATH, 1)[1]
    segments = split_path(path)
    if len(segments) != 1:
        raise _bad(f"'{ref}' is not an entity reference.")
    name, key = parse_segment(segments[0], codes.PAYLOAD_ERROR)
    entity = BY_SET.get(name)
    if entity is None or key is None:
        raise _bad(f"'{ref}' is not an entity reference.")
    where = key_of(entity, key, keys)
    row = fetch_one(conn, entity, where)
    if row is None:
        keytext = ",".join(f"{k}={v}" for k, v in where.items())
        raise ODataError(400, f"{entity.logical_name} With Ids = {keytext} Do Not Exist", codes.OBJECT_DOES_NOT_EXIST)
    return entity, {entity.key[0]: row[entity.key[0]]}


def _bind_field(entity: EntitySet, nav: str) -> tuple[Field, str | None]:
    """``parentcustomerid_account`` -> (the lookup field, 'account'); ``parentcustomerid`` -> (field, None)."""
    for f in entity.lookups:
        if f.navigation == nav:
            return f, None
        for target in f.targets:
            if f.polymorphic and nav == f"{f.navigation}_{target}":
                return f, target
    raise _bad(
        f"An undeclared property '{nav}' which only has property annotations in the payload but no property value "
        f"was found in the payload. In OData, only declared navigation properties and declared named streams can "
        f"be represented as properties without values."
    )


def to_columns(
    entity: EntitySet, body: dict[str, Any], conn: sqlite3.Connection, keys: KeySource, *, creating: bool
) -> dict[str, Any]:
    """The column values a create (``creating``) or update body sets; a column not valid for it is refused."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        if name.endswith("@odata.bind"):
            lookup, target = _bind_field(entity, name.removesuffix("@odata.bind"))
            _check_writable(entity, lookup, creating)
            _bind(lookup, target, value, conn, keys, out, name)
            continue
        if "@" in name:
            continue  # instance annotations on a property are ignored, as in Dataverse
        field = entity.get(name)
        if field is None:
            raise _bad(
                f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{entity.logical_name}'. "
                f"Make sure to only use property names that are defined by the type."
            )
        if field.is_lookup:
            raise _bad(f"Cannot set the lookup '{name}' directly; use '{field.navigation}@odata.bind'.")
        if name == entity.key[0] and (value is None or not creating):
            continue  # the key in an update body names the row the URL names (checked by the store)
        _check_writable(entity, field, creating)
        if field.max_length is not None and isinstance(value, str) and len(value) > field.max_length:
            raise ODataError(
                400,
                f"A validation error occurred. The length of the '{name}' attribute of the "
                f"'{entity.logical_name}' entity exceeded the maximum allowed length of '{field.max_length}'.",
                codes.STRING_TOO_LONG,
            )
        try:
            out[name] = to_db(field, value)
        except ValueError_ as exc:
            raise _bad(
                f"Error identified in Payload provided by the user for Entity :'{entity.name}', "
                f"----> InnerException : Microsoft.OData.ODataException: {exc}"
            ) from exc
    return out


def _check_writable(entity: EntitySet, field: Field, creating: bool) -> None:
    """Dataverse's IsValidForCreate / IsValidForUpdate: a column that is not is refused, by name."""
    if (field.creatable if creating else field.updatable) and not field.readonly:
        return
    what = "read-only" if field.readonly else f"not valid for {'create' if creating else 'update'}"
    hint = " Set it in an update after the create." if creating and field.updatable and not field.readonly else ""
    raise ODataError(
        400,
        f"The attribute '{field.navigation if field.is_lookup else field.name}' of entity '{entity.logical_name}' "
        f"is {what}.{hint}",
        codes.INVALID_ARGUMENT,
    )


def _bind(
    field: Field,
    target: str | None,
    value: Any,
    conn: sqlite3.Connection,
    keys: KeySource,
    out: dict[str, Any],
    name: str,
) -> None:
    if value is None:
        out[field.name] = None
        if field.polymorphic:
            out[field.type_column] = None
        return
    if not isinstance(value, str):
        raise _bad(f"The value of '{name}' must be an entity reference such as '/accounts(<id>)'.")
    try:
        ref_entity, key = resolve_reference(value, conn, keys)
    except ODataError as exc:
        raise ODataError(400, f"Invalid lookup '{field.navigation}' ({name}): {exc.message}", exc.code) from exc
    if ref_entity.logical_name not in field.targets or (target and target != ref_entity.logical_name):
        raise _bad(
            f"Invalid lookup '{field.navigation}' ({name}): a {ref_entity.logical_name} cannot be its target; "
            f"expected {' or '.join(field.targets)}."
        )
    out[field.name] = key[ref_entity.key[0]]
    if field.polymorphic:
        out[field.type_column] = ref_entity.logical_name


def lookup_target(entity: EntitySet, field: Field, row: dict[str, Any]) -> str:
    """Logical name of the row a lookup points to."""
    if field.polymorphic:
        return str(row.get(field.type_column) or field.targets[0])
    return field.targets[0]


def entity_for(logical_name: str) -> EntitySet:
    return BY_LOGICAL[logical_name]
