"""Dataverse's metadata API, the parts a client needs to learn and set up a tenant's tables.

``GET EntityDefinitions`` (``$select``, ``$filter`` of ``eq``/``ne`` terms with ``and``/``or``), one definition
by ``(LogicalName='x')`` or by ``MetadataId``, its ``Attributes`` (also cast to
``Microsoft.Dynamics.CRM.PicklistAttributeMetadata`` with ``$expand=OptionSet``) and its ``Keys``
(``EntityKeyIndexStatus``). ``POST .../Keys`` creates an alternate key (Pending, then Active), ``DELETE
.../Keys(<id>)`` removes one, and ``PUT EntityDefinitions(...)`` with ``ChangeTrackingEnabled: true`` turns
change tracking on (metadata is updated with PUT, never PATCH; it cannot be turned off again).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from p2c.sandbox.crm.customization import Customization, Key
from p2c.sandbox.crm.tables import Column, Table, tables
from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.keys import parse_segment
from p2c.sandbox.odata.service import Request, Response

NS = uuid.UUID("3d9e2c1b-7a5f-4e8d-b6c2-1f0a9e8d7c6b")
SCHEMA_NAMES = {
    "quotedetail": "QuoteDetail",
    "pricelevel": "PriceLevel",
    "productpricelevel": "ProductPriceLevel",
    "uom": "UoM",
    "uomschedule": "UoMSchedule",
    "transactioncurrency": "TransactionCurrency",
    "systemuser": "SystemUser",
}
TYPE_NAMES = {"Uniqueidentifier": "UniqueidentifierType", "BigInt": "BigIntType", "DateTime": "DateTimeType"}
_TERM = re.compile(r"^\s*(\w+)\s+(eq|ne)\s+('(?:[^']|'')*'|true|false|null|-?\d+)\s*$")


def metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "|".join(parts)))


def label(text: str) -> dict[str, Any]:
    localized = {"Label": text, "LanguageCode": 1033, "IsManaged": True}
    return {"LocalizedLabels": [localized] if text else [], "UserLocalizedLabel": localized if text else None}


def entity_definition(table: Table, custom: Customization) -> dict[str, Any]:
    schema = SCHEMA_NAMES.get(table.logical_name, table.logical_name.capitalize())
    return {
        "MetadataId": metadata_id("entity", table.logical_name),
        "LogicalName": table.logical_name,
        "SchemaName": schema,
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "CollectionSchemaName": schema + "s",
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "OwnershipType": table.ownership,
        "IsCustomEntity": False,
        "IsManaged": True,
        "ChangeTrackingEnabled": custom.tracked(table.logical_name),
        "DisplayName": label(schema),
    }


def attribute(table: Table, col: Column) -> dict[str, Any]:
    kind = col.attribute_type
    meta_type = {"Customer": "Lookup", "Owner": "Lookup", "State": "State", "Status": "Status"}.get(kind, kind)
    out: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{meta_type}AttributeMetadata",
        "MetadataId": metadata_id("attribute", table.logical_name, col.logical_name),
        "LogicalName": col.logical_name,
        "SchemaName": col.logical_name,
        "EntityLogicalName": table.logical_name,
        "AttributeType": kind,
        "AttributeTypeName": {"Value": TYPE_NAMES.get(kind, f"{kind}Type")},
        "IsValidForCreate": col.creatable,
        "IsValidForUpdate": col.updatable,
        "IsValidForRead": True,
        "IsCustomAttribute": col.custom,
        "IsPrimaryId": col.logical_name == table.primary_id,
        "IsPrimaryName": col.logical_name == table.primary_name,
        "RequiredLevel": {"Value": col.required_level, "CanBeChanged": True},
        "DisplayName": label(col.display_name),
    }
    if col.max_length is not None:
        out["MaxLength"] = col.max_length
    if col.is_lookup:
        out["Targets"] = list(col.targets)
    return out


def option_set(table: Table, col: Column) -> dict[str, Any]:
    return {
        "MetadataId": metadata_id("optionset", table.logical_name, col.logical_name),
        "Options": [{"Value": value, "Label": label(text)} for value, text in sorted(col.options.items())],
    }


def key_definition(table: Table, key: Key) -> dict[str, Any]:
    return {
        "MetadataId": key.metadata_id,
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name,
        "EntityLogicalName": table.logical_name,
        "KeyAttributes": list(key.attributes),
        "EntityKeyIndexStatus": key.status,
        "IsManaged": False,
        "DisplayName": label(key.schema_name),
    }


def matches(item: dict[str, Any], flt: str | None) -> bool:
    """``$filter`` of ``Prop eq|ne literal`` terms joined by ``and``/``or`` (``and`` binds tighter)."""
    if not flt:
        return True
    return any(all(_term(item, t) for t in re.split(r"\s+and\s+", group)) for group in re.split(r"\s+or\s+", flt))


def _term(item: dict[str, Any], text: str) -> bool:
    m = _TERM.match(text.strip().strip("()"))
    if not m:
        raise ODataError(
            400, f"The $filter term '{text.strip()}' is not supported on metadata.", codes.QUERY_NOT_SUPPORTED
        )
    name, op, raw = m.groups()
    literal: Any
    if raw.startswith("'"):
        literal = raw[1:-1].replace("''", "'")
    elif raw in ("true", "false"):
        literal = raw == "true"
    elif raw == "null":
        literal = None
    else:
        literal = int(raw)
    value = item.get(name)
    if isinstance(value, str) and isinstance(literal, str):
        equal = value.lower() == literal.lower()
    else:
        equal = value == literal
    return equal if op == "eq" else not equal


def select(item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    wanted = [s.strip() for s in query.get("$select", "").split(",") if s.strip()]
    if not wanted:
        return item
    unknown = [w for w in wanted if w not in item]
    if unknown:
        raise ODataError(
            400, f"Could not find a property named '{unknown[0]}' on the metadata type.", codes.QUERY_NOT_SUPPORTED
        )
    keep = {"@odata.type", "MetadataId", *wanted}
    return {k: v for k, v in item.items() if k in keep}


class MetadataApi:
    """Serves ``EntityDefinitions`` paths; the CRM service hands it every request under that name."""

    def __init__(self, custom: Customization) -> None:
        self.custom = custom

    def table(self, segment: str) -> Table:
        _name, key = parse_segment(segment, codes.QUERY_NOT_SUPPORTED)
        all_tables = tables()
        if isinstance(key, dict) and set(key) == {"LogicalName"}:
            found = all_tables.get(str(key["LogicalName"]).lower())
        else:
            found = next((t for t in all_tables.values() if metadata_id("entity", t.logical_name) == str(key)), None)
        if found is None:
            raise ODataError(
                404, f"Could not find an entity with key {key} in EntityDefinitions.", codes.OBJECT_DOES_NOT_EXIST
            )
        return found

    def handle(self, req: Request, segments: list[str]) -> Response:
        base = f"{req.base_url}$metadata#EntityDefinitions"
        if len(segments) == 1 and "(" not in segments[0]:
            if req.method != "GET":
                raise ODataError(405, "Create tables with the CreateEntities action.", codes.QUERY_NOT_SUPPORTED)
            items = [entity_definition(t, self.custom) for t in tables().values()]
            value = [select(i, req.query) for i in items if matches(i, req.query.get("$filter"))]
            return Response.json(200, {"@odata.context": base, "value": value})
        table = self.table(segments[0])
        rest = segments[1:]
        if not rest:
            return self._entity(req, table, base)
        if rest[0] == "Attributes":
            return self._attributes(req, table, rest[1:], base)
        if rest[0] == "Keys" or rest[0].startswith("Keys("):
            return self._keys(req, table, rest, base)
        raise ODataError(404, f"Resource not found for the segment '{rest[0]}'.", codes.QUERY_NOT_SUPPORTED)

    def _entity(self, req: Request, table: Table, base: str) -> Response:
        if req.method == "GET":
            item = select(entity_definition(table, self.custom), req.query)
            return Response.json(200, {"@odata.context": f"{base}/$entity", **item})
        if req.method == "PUT":
            body = req.json(codes.PAYLOAD_ERROR)
            if str(body.get("LogicalName", table.logical_name)).lower() != table.logical_name:
                raise ODataError(400, "The LogicalName of a table cannot be changed.", codes.INVALID_ARGUMENT)
            wanted = body.get("ChangeTrackingEnabled")
            if wanted is False and self.custom.tracked(table.logical_name):
                raise ODataError(400, "Change tracking cannot be disabled once it is enabled.", codes.INVALID_ARGUMENT)
            if wanted is True:
                self.custom.enable_tracking(table.logical_name)
            return Response(204, headers={"OData-Version": "4.0"})
        raise ODataError(405, "Metadata is updated with PUT, not PATCH.", codes.QUERY_NOT_SUPPORTED)

    def _attributes(self, req: Request, table: Table, rest: list[str], base: str) -> Response:
        if req.method != "GET":
            raise ODataError(
                405, "Columns cannot be created in this organization's metadata here.", codes.QUERY_NOT_SUPPORTED
            )
        columns = list(table.columns.values())
        if rest == ["Microsoft.Dynamics.CRM.PicklistAttributeMetadata"]:
            items = []
            for col in columns:
                if col.attribute_type != "Picklist":
                    continue
                item = select(attribute(table, col), req.query)
                if "OptionSet" in req.query.get("$expand", ""):
                    item["OptionSet"] = option_set(table, col)
                items.append(item)
            return Response.json(200, {"@odata.context": f"{base}/Attributes", "value": items})
        if rest:
            _name, key = parse_segment(rest[0], codes.QUERY_NOT_SUPPORTED)
            name = str(key.get("LogicalName", "")) if isinstance(key, dict) else ""
            found = table.columns.get(name.lower())
            if found is None:
                raise ODataError(
                    404,
                    f"Could not find an attribute with key {key} on {table.logical_name}.",
                    codes.OBJECT_DOES_NOT_EXIST,
                )
            return Response.json(
                200, {"@odata.context": f"{base}/Attributes/$entity", **select(attribute(table, found), req.query)}
            )
        items = [attribute(table, c) for c in columns]
        value = [select(i, req.query) for i in items if matches(i, req.query.get("$filter"))]
        return Response.json(200, {"@odata.context": f"{base}/Attributes", "value": value})

    def _keys(self, req: Request, table: Table, rest: list[str], base: str) -> Response:
        if len(rest) == 1 and rest[0] == "Keys":
            if req.method == "GET":
                value = [key_definition(table, k) for k in self.custom.keys(table.logical_name)]
                return Response.json(200, {"@odata.context": f"{base}/Keys", "value": value})
            if req.method == "POST":
                return self._create_key(req, table)
        elif len(rest) == 1:
            _name, key_id = parse_segment(rest[0], codes.QUERY_NOT_SUPPORTED)
            if req.method == "DELETE":
                if not self.custom.delete_key(table.logical_name, str(key_id)):
                    raise ODataError(404, f"No key {key_id} on {table.logical_name}.", codes.OBJECT_DOES_NOT_EXIST)
                return Response(204, headers={"OData-Version": "4.0"})
            if req.method == "GET":
                for k in self.custom.keys(table.logical_name):
                    if k.metadata_id.lower() == str(key_id).lower():
                        return Response.json(
                            200, {"@odata.context": f"{base}/Keys/$entity", **key_definition(table, k)}
                        )
                raise ODataError(404, f"No key {key_id} on {table.logical_name}.", codes.OBJECT_DOES_NOT_EXIST)
        raise ODataError(405, f"The HTTP method '{req.method}' is not allowed here.", codes.QUERY_NOT_SUPPORTED)

    def _create_key(self, req: Request, table: Table) -> Response:
        body = req.json(codes.PAYLOAD_ERROR)
        schema = body.get("SchemaName")
        attributes = body.get("KeyAttributes")
        if not isinstance(schema, str) or not schema or not isinstance(attributes, list) or not attributes:
            raise ODataError(400, "An alternate key needs a SchemaName and KeyAttributes.", codes.INVALID_ARGUMENT)
        for name in attributes:
            col = table.columns.get(str(name).lower())
            if col is None:
                raise ODataError(
                    400, f"The attribute '{name}' does not exist on {table.logical_name}.", codes.INVALID_ARGUMENT
                )
            if col.attribute_type not in ("String", "Integer", "Decimal", "DateTime", "Lookup", "Picklist"):
                raise ODataError(
                    400,
                    f"The attribute '{name}' of type {col.attribute_type} cannot be part of an alternate key.",
                    codes.INVALID_ARGUMENT,
                )
        existing = self.custom.keys(table.logical_name)
        if any(k.schema_name.lower() == schema.lower() for k in existing):
            raise ODataError(
                400, f"A key named {schema} already exists on {table.logical_name}.", codes.DUPLICATE_RECORD
            )
        if any(sorted(k.attributes) == sorted(str(a).lower() for a in attributes) for k in existing):
            raise ODataError(
                400, f"{table.logical_name} already has a key on {', '.join(attributes)}.", codes.DUPLICATE_RECORD
            )
        key = self.custom.create_key(table.logical_name, schema, [str(a).lower() for a in attributes])
        entity_id = (
            f"{req.base_url}EntityDefinitions({metadata_id('entity', table.logical_name)})/Keys({key.metadata_id})"
        )
        return Response(204, headers={"OData-Version": "4.0", "OData-EntityId": entity_id})
