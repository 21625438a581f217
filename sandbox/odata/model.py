"""Entity definitions shared by both services: fields, keys, lookups.

An :class:`EntitySet` describes one OData entity set and the SQLite table behind it. Column names are the
OData property names, so a ``$filter``/``$select``/``$orderby`` translates to SQL without a mapping table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Type(StrEnum):
    STRING = "Edm.String"
    INT = "Edm.Int32"
    BIGINT = "Edm.Int64"
    BOOL = "Edm.Boolean"
    DECIMAL = "Edm.Decimal"
    DOUBLE = "Edm.Double"
    DATETIME = "Edm.DateTimeOffset"
    DATE = "Edm.Date"
    GUID = "Edm.Guid"

    @property
    def sql(self) -> str:
        return _SQL_TYPES[self]


_SQL_TYPES = {
    Type.STRING: "TEXT",
    Type.INT: "INTEGER",
    Type.BIGINT: "INTEGER",
    Type.BOOL: "INTEGER",
    Type.DECIMAL: "REAL",
    Type.DOUBLE: "REAL",
    Type.DATETIME: "TEXT",
    Type.DATE: "TEXT",
    Type.GUID: "TEXT",
}


@dataclass(frozen=True)
class Field:
    """One property. ``targets`` makes it a lookup (``_x_value``) to those entity logical names."""

    name: str
    type: Type = Type.STRING
    nullable: bool = True
    readonly: bool = False
    targets: tuple[str, ...] = ()
    scale: int | None = None
    #: Dataverse's IsValidForCreate / IsValidForUpdate (a read-only field is neither)
    creatable: bool = True
    updatable: bool = True
    #: an enum property: its qualified type name and its (member, value) pairs; values travel as member names
    enum: str = ""
    members: tuple[tuple[str, int], ...] = ()
    #: Dataverse's MaxLength of a text column (FinOps's metadata has none)
    max_length: int | None = None

    @property
    def edm_type(self) -> str:
        """The type named in ``$metadata``: the enum type, else the Edm type."""
        return self.enum or self.type.value

    @property
    def is_lookup(self) -> bool:
        return bool(self.targets)

    @property
    def navigation(self) -> str:
        """``_parentcustomerid_value`` -> ``parentcustomerid``."""
        return self.name.removeprefix("_").removesuffix("_value")

    @property
    def polymorphic(self) -> bool:
        return len(self.targets) > 1

    @property
    def type_column(self) -> str:
        """Hidden column holding the target's logical name of a lookup."""
        return f"{self.navigation}__type"


@dataclass(frozen=True)
class EntitySet:
    """An entity set: ``name`` in URLs, ``logical_name`` its type, ``key`` its primary key fields."""

    name: str
    logical_name: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    table_name: str = ""  # FinOps: the AOT name used in error messages
    label: str = ""
    by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})
        missing = [k for k in self.key if k not in self.by_name]
        if missing:
            raise ValueError(f"{self.name}: key fields {missing} are not fields")

    @property
    def table(self) -> str:
        return self.name.lower()

    def get(self, name: str) -> Field | None:
        return self.by_name.get(name)

    @property
    def lookups(self) -> list[Field]:
        return [f for f in self.fields if f.is_lookup]

    def columns(self) -> list[str]:
        """Physical columns: every field, plus a type column per polymorphic lookup."""
        cols = [f.name for f in self.fields]
        cols += [f.type_column for f in self.fields if f.polymorphic]
        return cols


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted. Names come from entity definitions, never from requests."""
    return '"' + name.replace('"', '""') + '"'
