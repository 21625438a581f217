"""A tenant's own columns: what its makers added, beyond the real metadata and the P2C solution.

Every real tenant has some: a Dataverse custom column (logical name with the publisher's prefix, such as
``new_loyaltytier``) or a FinOps extension field on a data entity (``ContosoLoyaltyTier``). A sandbox is told
about them with a TOML file, named by ``p2c sandbox crm --custom-columns FILE`` (``P2C_CRM_CUSTOM_COLUMNS``)
and ``p2c sandbox erp --extension-fields FILE`` (``P2C_ERP_EXTENSION_FIELDS``)::

    [[column]]                      # CRM: same shape as streams/templates/p2c-solution.toml
    table = "account"
    name = "new_loyaltytier"
    type = "String"                 # String, Boolean, Integer, BigInt
    max_length = 100

    [[field]]                       # ERP
    entity = "CustomersV3"
    name = "ContosoLoyaltyTier"
    type = "String"                 # String, Int32, Int64, Decimal, Boolean

The tables are made once per process, so the variable is read when they are; the CLI options set it. A
column is refused (ValueError naming file and entry) when its name breaks the service's rules: Dataverse
wants a lower-case logical name with a publisher prefix of 2 to 8 letters or digits.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

CRM_ENV = "P2C_CRM_CUSTOM_COLUMNS"
ERP_ENV = "P2C_ERP_EXTENSION_FIELDS"
CRM_TYPES = ("String", "Boolean", "Integer", "BigInt")
ERP_TYPES = ("String", "Int32", "Int64", "Decimal", "Boolean")
CUSTOM_COLUMN = re.compile(r"^[a-z][a-z0-9]{1,7}_[a-z0-9_]+$")
EXTENSION_FIELD = re.compile(r"^[A-Z][A-Za-z0-9_]*$")


@cache
def _entries(path: str, table: str) -> list[dict[str, Any]]:
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"tenant columns file {path}: {exc}") from exc
    entries = doc.get(table, [])
    if not isinstance(entries, list):
        raise ValueError(f"tenant columns file {path}: [[{table}]] must be an array of tables")
    return entries


def _check(path: str, entry: dict[str, Any], owner: str, types: tuple[str, ...], pattern: re.Pattern[str]) -> None:
    where = f"tenant columns file {path}, {entry.get(owner)}.{entry.get('name')}"
    if not entry.get(owner) or not entry.get("name"):
        raise ValueError(f"{where}: every entry needs {owner} and name")
    if entry.get("type") not in types:
        raise ValueError(f"{where}: type {entry.get('type')!r}; one of {', '.join(types)}")
    if not pattern.match(str(entry["name"])):
        raise ValueError(f"{where}: not a name the service allows for a column of a tenant's own ({pattern.pattern})")


def crm_columns() -> list[dict[str, Any]]:
    """The CRM tenant's custom columns (``[[column]]``: table, name, type, max_length, display_name)."""
    path = os.environ.get(CRM_ENV)
    if not path:
        return []
    entries = _entries(path, "column")
    for entry in entries:
        _check(path, entry, "table", CRM_TYPES, CUSTOM_COLUMN)
    return entries


def erp_fields(entity_set: str) -> list[tuple[str, str]]:
    """(name, type) of the ERP environment's extension fields on ``entity_set``."""
    path = os.environ.get(ERP_ENV)
    if not path:
        return []
    found = []
    for entry in _entries(path, "field"):
        _check(path, entry, "entity", ERP_TYPES, EXTENSION_FIELD)
        if entry["entity"] == entity_set:
            found.append((str(entry["name"]), str(entry["type"])))
    return found
