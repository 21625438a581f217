"""System query options: ``$select``, ``$filter``, ``$orderby``, ``$top``, ``$skip``, ``$count``.

:func:`parse_options` reads them from the query string; :func:`select_sql` builds one parameterised SELECT.
What each service does with an option it does not support is the service's business (Dataverse rejects
``$skip``; FinOps accepts it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.filter import FilterError, to_sql
from p2c.sandbox.odata.model import EntitySet, Field, quote_ident

KNOWN = {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$expand", "$skiptoken", "$deltatoken"}


@dataclass
class QueryOptions:
    select: list[str] | None = None
    filter: str | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (name, descending)
    top: int | None = None
    skip: int | None = None
    count: bool = False
    expand: str | None = None
    skiptoken: str | None = None
    deltatoken: str | None = None
    present: set[str] = field(default_factory=set)


def _int(name: str, raw: str, code: str) -> int:
    if not re.fullmatch(r"\d+", raw.strip()):
        raise ODataError(400, f"Invalid value '{raw}' for query option {name}: a non-negative integer is needed.", code)
    return int(raw)


def parse_options(query: Mapping[str, str], code: str = "") -> QueryOptions:
    opts = QueryOptions()
    for name, _raw in query.items():
        if name.startswith("$") and name not in KNOWN:
            raise ODataError(400, f"The query parameter {name} is not supported", code)
        if name in KNOWN:
            opts.present.add(name)
    if "$select" in query:
        opts.select = [s.strip() for s in query["$select"].split(",") if s.strip()]
    opts.filter = query.get("$filter") or None
    if "$orderby" in query:
        for part in query["$orderby"].split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
                raise ODataError(400, f"Invalid $orderby clause '{part.strip()}'.", code)
            opts.orderby.append((words[0], len(words) == 2 and words[1] == "desc"))
    if "$top" in query:
        opts.top = _int("$top", query["$top"], code)
    if "$skip" in query:
        opts.skip = _int("$skip", query["$skip"], code)
    if "$count" in query:
        if query["$count"] not in ("true", "false"):
            raise ODataError(400, "Invalid value for $count: true or false.", code)
        opts.count = query["$count"] == "true"
    opts.expand = query.get("$expand")
    opts.skiptoken = query.get("$skiptoken")
    opts.deltatoken = query.get("$deltatoken")
    return opts


def resolver(entity: EntitySet, code: str = "", noun: str = "type") -> Any:
    def resolve(name: str) -> Field:
        f = entity.get(name)
        if f is None:
            raise FilterError(f"Could not find a property named '{name}' on {noun} '{entity.logical_name}'.")
        return f

    return resolve


def check_select(entity: EntitySet, names: list[str] | None, code: str = "") -> list[Field]:
    """The fields to return; unknown names -> 400."""
    if not names:
        return list(entity.fields)
    fields = []
    for name in names:
        f = entity.get(name)
        if f is None:
            raise ODataError(400, f"Could not find a property named '{name}' on type '{entity.logical_name}'.", code)
        fields.append(f)
    for k in entity.key:  # the key always comes back, as in both real services
        if entity.by_name[k] not in fields:
            fields.insert(0, entity.by_name[k])
    return fields


def where_sql(
    entity: EntitySet, filter_text: str | None, code: str = "", *, wildcards: bool = False, strict_dates: bool = False
) -> tuple[str, list[Any]]:
    if not filter_text:
        return "1", []
    try:
        return to_sql(filter_text, resolver(entity, code), wildcards=wildcards, strict_dates=strict_dates)
    except FilterError as exc:
        raise ODataError(400, str(exc), code) from exc


def order_sql(entity: EntitySet, orderby: list[tuple[str, bool]], code: str = "") -> str:
    parts = []
    for name, desc in orderby:
        if entity.get(name) is None:
            raise ODataError(400, f"Could not find a property named '{name}' on type '{entity.logical_name}'.", code)
        parts.append(f"{quote_ident(name)} {'DESC' if desc else 'ASC'}")
    parts += [f"{quote_ident(k)} ASC" for k in entity.key if k not in {n for n, _ in orderby}]
    return ", ".join(parts)


def select_sql(
    entity: EntitySet,
    columns: list[str],
    where: str,
    order: str,
    limit: int | None,
    offset: int,
) -> str:
    cols = ", ".join(quote_ident(c) for c in columns)
    sql = f"SELECT {cols} FROM {quote_ident(entity.table)} WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    elif offset:
        sql += f" LIMIT -1 OFFSET {int(offset)}"
    return sql
