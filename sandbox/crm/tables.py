"""The CRM sandbox's tables, made from the real metadata: ``sandbox/data/dataverse.json`` (a copy of
``shared/domain/real-metadata/dataverse.json``), plus the P2C solution's columns listed once in
``streams/templates/p2c-solution.toml``.

Every column of a table is a column the reference documents, with its Web API type and writability:
``writable: false`` is read-only (refused in a write), ``valid_for_create: false`` is refused in a create and
``valid_for_update: false`` in an update. Lookups are served as ``_<name>_value``. Two tables the reference
file leaves out are served because p2c reads them, with the columns Microsoft's table reference documents:
``transactioncurrency`` (currencies by ISO code) and ``systemuser`` (who made a change).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from p2c.sandbox.odata.model import EntitySet, Field, Type
from p2c.sandbox.tenant_columns import crm_columns

WEBAPI_TYPES = {t.value: t for t in Type}
#: Where the reference file says less than Microsoft's table reference page, the page wins (and is cited).
OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    # product.md: PriceLevelId "Default Price List", IsValidForCreate False (set it by an update after create)
    ("product", "pricelevelid"): {"valid_for_create": False},
    # product.md: ProductId IsValidForUpdate False
    ("product", "productid"): {"valid_for_update": False},
    # product.md: ParentProductId IsValidForUpdate False
    ("product", "parentproductid"): {"valid_for_update": False},
}


@dataclass(frozen=True)
class Column:
    """Attribute metadata of one column, as ``EntityDefinitions(...)/Attributes`` serves it."""

    logical_name: str
    attribute_type: str  # Dataverse AttributeType: String, Lookup, Picklist, ...
    webapi_type: str
    display_name: str = ""
    required_level: str = "None"
    max_length: int | None = None
    targets: tuple[str, ...] = ()
    options: dict[int, str] = field(default_factory=dict)
    creatable: bool = True
    updatable: bool = True
    custom: bool = False  # added by a solution or a maker (IsCustomAttribute)

    @property
    def is_lookup(self) -> bool:
        return bool(self.targets)


@dataclass(frozen=True)
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    ownership: str
    columns: dict[str, Column]
    entity: EntitySet


def _metadata() -> dict[str, Any]:
    text = resources.files("p2c.sandbox").joinpath("data/dataverse.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def solution_columns() -> list[dict[str, Any]]:
    """The P2C solution's (and p2c's own) columns, from ``streams/templates/p2c-solution.toml``."""
    text = resources.files("p2c.streams").joinpath("templates/p2c-solution.toml").read_text(encoding="utf-8")
    return list(tomllib.loads(text)["column"])


def _options(raw: Any) -> dict[int, str]:
    if not isinstance(raw, dict):
        return {}
    out: dict[int, str] = {}
    for value, label in raw.items():
        try:
            out[int(value)] = label["label"] if isinstance(label, dict) else str(label)
        except ValueError:
            continue
    return out


def _column(table: str, name: str, prop: dict[str, Any]) -> Column:
    prop = {**prop, **OVERRIDES.get((table, name), {})}
    writable = bool(prop.get("writable", True))
    return Column(
        logical_name=name,
        attribute_type=str(prop.get("type", "String")),
        webapi_type=str(prop.get("webapi_type", "Edm.String")),
        display_name=str(prop.get("display_name", "")),
        required_level=str(prop.get("required_level", "None")),
        max_length=prop.get("max_length"),
        targets=tuple(prop.get("targets", ())),
        options=_options(prop.get("options")),
        creatable=writable and prop.get("valid_for_create", True) is not False,
        updatable=writable and prop.get("valid_for_update", True) is not False,
    )


def _field(col: Column, table: str) -> Field | None:
    """The Web API property of a column; None for the hidden ``<lookup>type`` EntityName columns."""
    if col.attribute_type == "EntityName":
        return None
    scale = {"Money": 4, "Decimal": 10}.get(col.attribute_type)
    if col.is_lookup:
        return Field(
            f"_{col.logical_name}_value",
            Type.GUID,
            readonly=not (col.creatable or col.updatable),
            targets=col.targets,
            creatable=col.creatable,
            updatable=col.updatable,
        )
    return Field(
        col.logical_name,
        WEBAPI_TYPES[col.webapi_type],
        readonly=not (col.creatable or col.updatable),
        scale=scale,
        creatable=col.creatable,
        updatable=col.updatable,
        max_length=col.max_length if col.attribute_type in ("String", "Memo") else None,
    )


def _build(logical: str, entity_set: str, spec: dict[str, Any], extra: list[Column]) -> Table:
    columns = {name: _column(logical, name, prop) for name, prop in spec["properties"].items()}
    columns |= {c.logical_name: c for c in extra}
    primary = spec["keys"][0]
    fields = [f for c in columns.values() if (f := _field(c, logical)) is not None]
    fields.sort(key=lambda f: (f.name != primary, 0))  # the primary key first
    entity = EntitySet(entity_set, logical, (primary,), tuple(fields))
    return Table(
        logical,
        entity_set,
        primary,
        str(spec.get("primary_name", "name")),
        str(spec.get("ownership", "UserOwned")),
        columns,
        entity,
    )


def _extra_columns(logical: str) -> list[Column]:
    """The P2C solution's columns on ``logical``, then the tenant's own (:mod:`p2c.sandbox.tenant_columns`)."""
    out = []
    for c in [*solution_columns(), *crm_columns()]:
        if c["table"] != logical:
            continue
        webapi = {"String": "Edm.String", "Boolean": "Edm.Boolean", "BigInt": "Edm.Int64", "Integer": "Edm.Int32"}
        out.append(
            Column(
                c["name"],
                c["type"],
                webapi[c["type"]],
                display_name=c.get("display_name", ""),
                max_length=c.get("max_length"),
                custom=True,
            )
        )
    return out


def _system(logical: str, entity_set: str, primary: str, extra: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A table spec for a table the reference file leaves out, in the file's own shape."""
    ro = {"writable": False}
    props: dict[str, dict[str, Any]] = {
        primary: {"type": "Uniqueidentifier", "webapi_type": "Edm.Guid", "valid_for_update": False},
        **extra,
        "createdon": {"type": "DateTime", "webapi_type": "Edm.DateTimeOffset", **ro},
        "modifiedon": {"type": "DateTime", "webapi_type": "Edm.DateTimeOffset", **ro},
        "versionnumber": {"type": "BigInt", "webapi_type": "Edm.Int64", **ro},
        "createdby": {"type": "Lookup", "targets": ["systemuser"], "webapi_type": "Edm.Guid", **ro},
        "modifiedby": {"type": "Lookup", "targets": ["systemuser"], "webapi_type": "Edm.Guid", **ro},
    }
    return {"entity_set": entity_set, "keys": [primary], "properties": props, "ownership": "OrganizationOwned"}


_S = {"type": "String", "webapi_type": "Edm.String"}
#: transactioncurrency.md and systemuser.md (Microsoft's table reference), the columns p2c and the sandbox use
SYSTEM_TABLES = {
    "transactioncurrency": _system(
        "transactioncurrency",
        "transactioncurrencies",
        "transactioncurrencyid",
        {
            "isocurrencycode": {**_S, "max_length": 5, "valid_for_update": False},
            "currencyname": {**_S, "max_length": 100},
            "currencysymbol": {**_S, "max_length": 10},
            "exchangerate": {"type": "Decimal", "webapi_type": "Edm.Decimal"},
            "currencyprecision": {"type": "Integer", "webapi_type": "Edm.Int32"},
            "statecode": {"type": "State", "webapi_type": "Edm.Int32", "options": {"0": "Active", "1": "Inactive"}},
            "statuscode": {"type": "Status", "webapi_type": "Edm.Int32"},
        },
    ),
    "systemuser": _system(
        "systemuser",
        "systemusers",
        "systemuserid",
        {
            "fullname": {**_S, "writable": False},
            "domainname": {**_S, "max_length": 1024},
            "applicationid": {"type": "Uniqueidentifier", "webapi_type": "Edm.Guid"},
            "isdisabled": {"type": "Boolean", "webapi_type": "Edm.Boolean", "writable": False},
            "accessmode": {"type": "Picklist", "webapi_type": "Edm.Int32"},
        },
    ),
}
SYSTEM_TABLES["transactioncurrency"]["primary_name"] = "currencyname"
SYSTEM_TABLES["systemuser"]["primary_name"] = "fullname"
SYSTEM_TABLES["systemuser"]["ownership"] = "BusinessOwned"


@cache
def tables() -> dict[str, Table]:
    """Logical name -> table, for every table the sandbox serves."""
    meta = _metadata()
    specs = {k: v for k, v in meta.items() if not k.startswith("_")} | SYSTEM_TABLES
    return {name: _build(name, spec["entity_set"], spec, _extra_columns(name)) for name, spec in specs.items()}
