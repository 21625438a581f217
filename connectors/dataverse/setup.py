"""What p2c needs of a Sales tenant, checked against its metadata, not assumed; and set up where a maker could.

Per table: change tracking where the CRM source reads (``ChangeTrackingEnabled``), the alternate key the CRM sink
upserts products by (``productnumber``, index ``Active``), and every column p2c selects or writes (the P2C
solution's columns included, ``streams/templates/p2c-solution.toml``). ``p2c setup crm`` reports it all;
``--apply`` turns change tracking on (``PUT EntityDefinitions(...)`` with the definition read back) and creates
the missing keys (``POST .../Keys``), then waits for their indexes to become ``Active``. A missing column is
reported with its fix: install the Prospect to cash solution, or add the column. The CRM source and sink run
:func:`check` at start and refuse to run with one line per problem, naming the table and the fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from p2c.connectors.core.http import ODataClient
from p2c.connectors.dataverse.streams import STREAMS
from p2c.connectors.dataverse.targets import PRODUCTS
from p2c.errors import ConfigurationError

log = logging.getLogger("p2c.connectors.dataverse.setup")

#: the keys the CRM sink upserts by: table -> (key schema name, columns)
SINK_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {"product": ("p2c_productnumber", ("productnumber",))}
#: what the CRM sink writes: table -> columns (lookups by their column name)
SINK_COLUMNS = {
    "product": (
        PRODUCTS.key,
        *PRODUCTS.plain,
        *PRODUCTS.constants,
        "transactioncurrencyid",
        "defaultuomscheduleid",
        "defaultuomid",
        "pricelevelid",
        "statecode",
        "statuscode",
    ),
    "productpricelevel": ("amount", "pricingmethodcode", "quantitysellingcode", "productid", "pricelevelid", "uomid"),
}
SOLUTION_HINT = "install the Prospect to cash solution for Dynamics 365 Sales (or add the column)"


def column_of(name: str) -> str:
    """``_parentcustomerid_value`` -> ``parentcustomerid``."""
    return name[1:-6] if name.startswith("_") and name.endswith("_value") else name


@dataclass
class Need:
    """What p2c needs of one table."""

    entity_set: str
    tracking: bool = False
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # schema name -> columns
    columns: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Problem:
    table: str
    what: str
    fix: str
    kind: str  # tracking, key, key-pending, column

    def __str__(self) -> str:
        return f"CRM table {self.table}: {self.what}; fix: {self.fix}"


def needs(source_sets: Iterable[str] = (), sink: bool = False) -> dict[str, Need]:
    """Entity set -> what p2c needs of it, for a source reading ``source_sets`` and/or the products sink."""
    out: dict[str, Need] = {}
    for name in source_sets:
        need = out.setdefault(name, Need(name))
        need.tracking = True
        need.columns |= {column_of(c) for c in STREAMS[name].select}
    if sink:
        for table, (schema, cols) in SINK_KEYS.items():
            out.setdefault(f"{table}s", Need(f"{table}s")).keys[schema] = cols
        for table, cols in SINK_COLUMNS.items():
            out.setdefault(f"{table}s", Need(f"{table}s")).columns |= set(cols)
    return out


class TenantSetup:
    """Reads (and with :meth:`apply` changes) a tenant's table definitions through the metadata API."""

    def __init__(self, client: ODataClient, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.sleep = sleep
        self._tables: dict[str, dict[str, Any]] | None = None

    def tables(self) -> dict[str, dict[str, Any]]:
        """Entity set -> its definition (LogicalName, EntitySetName, ChangeTrackingEnabled)."""
        if self._tables is None:
            doc = self.client.get_json(
                "EntityDefinitions", params={"$select": "LogicalName,EntitySetName,ChangeTrackingEnabled"}
            )
            self._tables = {str(d["EntitySetName"]): d for d in doc["value"]}
        return self._tables

    def _path(self, logical: str) -> str:
        return f"EntityDefinitions(LogicalName='{logical}')"

    def keys(self, logical: str) -> list[dict[str, Any]]:
        return list(self.client.get_json(f"{self._path(logical)}/Keys")["value"])

    def columns(self, logical: str) -> set[str]:
        doc = self.client.get_json(f"{self._path(logical)}/Attributes", params={"$select": "LogicalName"})
        return {str(a["LogicalName"]) for a in doc["value"]}

    def problems(self, wanted: dict[str, Need]) -> list[Problem]:
        found: list[Problem] = []
        tables = self.tables()
        for entity_set, need in sorted(wanted.items()):
            definition = tables.get(entity_set)
            if definition is None:
                found.append(Problem(entity_set, "the table does not exist", SOLUTION_HINT, "column"))
                continue
            logical = str(definition["LogicalName"])
            if need.tracking and not definition.get("ChangeTrackingEnabled"):
                fix = f"turn on Track changes for {logical} (p2c setup crm --apply)"
                found.append(Problem(logical, "change tracking is off", fix, "tracking"))
            if need.keys:
                keys = {tuple(sorted(k["KeyAttributes"])): k for k in self.keys(logical)}
                for schema, cols in need.keys.items():
                    key = keys.get(tuple(sorted(cols)))
                    label = f"alternate key on {', '.join(cols)}"
                    if key is None:
                        fix = f"create the {label} (p2c setup crm --apply creates {schema})"
                        found.append(Problem(logical, f"no {label}", fix, "key"))
                    elif key["EntityKeyIndexStatus"] != "Active":
                        status = key["EntityKeyIndexStatus"]
                        fix = (
                            "make the values unique, then delete and create the key again"
                            if status == "Failed"
                            else "wait for its index to become Active (p2c setup crm --apply waits)"
                        )
                        found.append(Problem(logical, f"the {label} is {status}", fix, "key-pending"))
            missing = sorted(need.columns - self.columns(logical))
            for column in missing:
                found.append(Problem(logical, f"column {column} is missing", SOLUTION_HINT, "column"))
        return found

    def apply(self, wanted: dict[str, Need], key_timeout: float = 600.0) -> list[Problem]:
        """Turn change tracking on and create the missing keys; wait for the keys; what is left to fix by hand."""
        for problem in self.problems(wanted):
            if problem.kind == "tracking":
                definition = self.client.get_json(self._path(problem.table))
                definition.pop("@odata.context", None)
                definition["ChangeTrackingEnabled"] = True
                self.client.request(
                    "PUT", self._path(problem.table), json=definition, headers={"MSCRM.MergeLabels": "true"}
                )
                log.info("turned change tracking on for %s", problem.table)
            elif problem.kind == "key":
                need = next(n for n in wanted.values() if n.keys and self._logical(n.entity_set) == problem.table)
                for schema, cols in need.keys.items():
                    body = {"SchemaName": schema, "KeyAttributes": list(cols)}
                    self.client.request("POST", f"{self._path(problem.table)}/Keys", json=body)
                    log.info("created alternate key %s on %s(%s)", schema, problem.table, ", ".join(cols))
        self._tables = None
        deadline = time.monotonic() + key_timeout
        while True:
            left = self.problems(wanted)
            pending = [p for p in left if p.kind == "key-pending" and "Failed" not in p.what]
            if not pending:
                return left
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    f"{pending[0].table}: the key index did not become Active in {key_timeout:.0f} s"
                )
            log.info("waiting for %d key index(es) to become Active: %s", len(pending), "; ".join(map(str, pending)))
            self.sleep(1.0)

    def _logical(self, entity_set: str) -> str:
        return str(self.tables()[entity_set]["LogicalName"])


def check(client: ODataClient, wanted: dict[str, Need], who: str) -> None:
    """Refuse to start when the tenant lacks what ``who`` needs: one line per problem, naming table and fix."""
    problems = TenantSetup(client).problems(wanted)
    if problems:
        lines = "\n  ".join(map(str, problems))
        raise ConfigurationError(
            f"{who} cannot start: the CRM lacks what it needs:\n  {lines}\n"
            f"Run `p2c setup crm --apply` to set up what a maker could, then start again."
        )
    log.info("%s: the CRM has the change tracking, keys and columns it needs (%d tables)", who, len(wanted))
