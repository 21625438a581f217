"""FinOps entity sets made from the real metadata (``sandbox/data/finops.json``, captured from a real
Finance and Operations environment; see its ``_meta`` block for the sources).

Keys, property names, Edm types, nullability and enum members come from that file and nothing else: the
sandbox cannot serve a property the real service lacks. The entity type names and the AOT table names (used
in FinOps's error messages) are not in the file; they follow FinOps's naming and are listed in
``sandbox/erp/entities.py``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from p2c.sandbox.odata.model import EntitySet, Field, Type

NAMESPACE = "Microsoft.Dynamics.DataEntities"
#: FinOps's empty date (inferred, see the metadata README): date-only and UTC fields are never null
EMPTY_DATE = "1900-01-01T00:00:00.000Z"
_EDM = {t.value: t for t in Type}


@cache
def metadata() -> dict[str, Any]:
    """The whole captured metadata: entity set name -> {keys, properties, enums, ...}, plus ``_meta``."""
    text = resources.files("p2c.sandbox").joinpath("data", "finops.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def field_of(name: str, prop: dict[str, Any], enums: dict[str, dict[str, int]]) -> Field:
    """One property as the sandbox's Field; an enum keeps its qualified type name and its members."""
    type_name = str(prop["type"])
    nullable = bool(prop.get("nullable", True))
    if type_name in _EDM:
        return Field(name, _EDM[type_name], nullable=nullable)
    if not type_name.startswith(NAMESPACE + "."):
        raise ValueError(f"property {name}: unknown type {type_name}")
    members = enums[type_name.rsplit(".", 1)[1]]
    return Field(
        name, Type.STRING, nullable=nullable, enum=type_name, members=tuple(sorted(members.items(), key=lambda m: m[1]))
    )


def entity_set(name: str, type_name: str, table_name: str = "", label: str = "") -> EntitySet:
    """The entity set ``name`` exactly as the real metadata declares it."""
    try:
        spec = metadata()[name]
    except KeyError as exc:
        raise KeyError(f"{name} is not in the real FinOps metadata") from exc
    enums = spec.get("enums", {})
    fields = tuple(field_of(n, p, enums) for n, p in spec["properties"].items())
    return EntitySet(name, type_name, tuple(spec["keys"]), fields, table_name=table_name, label=label)


def empty_value(field: Field) -> Any:
    """What FinOps stores for a non-nullable property nobody gave a value: 0, the empty date, the first member."""
    if field.enum:
        return field.members[0][0]
    return {Type.DATETIME: EMPTY_DATE, Type.STRING: "", Type.BOOL: 0}.get(field.type, 0)
