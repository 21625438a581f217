"""Avro schema compatibility: can a reader schema read data written with a writer schema?

The rules are Avro's schema resolution (the specification's "Schema Resolution" section, as Avro Java's
``SchemaCompatibility`` applies them, which is what Confluent's registry uses):

* a writer union is readable when each of its branches is; a reader union when one branch reads the writer;
* records, enums and fixed match by unqualified name (or a reader alias); fixed sizes must be equal;
* every reader field is in the writer (by name or alias) with a readable type, or has a default;
  writer fields the reader lacks are skipped;
* every writer enum symbol is a reader symbol, unless the reader enum has a default;
* arrays and maps compare their items and values;
* promotions: int to long, float or double; long to float or double; float to double; string and bytes
  either way. Logical types resolve as their underlying types, except that two decimals must agree on
  precision and scale (the specification says so).

A compatibility *level* says who reads whom: BACKWARD, the new schema reads data of the previous one (all
previous ones when TRANSITIVE); FORWARD, the previous ones read the new one; FULL, both; NONE, no check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p2c.registry.schema import PRIMITIVES, ParsedSchema

LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


@dataclass(frozen=True)
class Incompatibility:
    """Why a reader cannot read a writer: Avro Java's error type, a sentence, the path in the reader."""

    error_type: str
    description: str
    path: str

    def __str__(self) -> str:
        return f"{{errorType:'{self.error_type}', description:'{self.description}', path:'{self.path}'}}"


class _Checker:
    def __init__(self, reader: ParsedSchema, writer: ParsedSchema) -> None:
        self.reader_names = reader.named
        self.writer_names = writer.named
        self.in_progress: set[tuple[str, str]] = set()
        self.found: list[Incompatibility] = []

    def resolve(self, node: Any, names: dict[str, Any]) -> Any:
        while isinstance(node, dict) and not isinstance(node.get("type"), str):
            node = node["type"]  # {"type": [...]} or {"type": {...}}: the wrapped schema
        if isinstance(node, str) and node not in PRIMITIVES:
            return names.get(node, node)
        return node

    def readable(self, reader: Any, writer: Any, path: str) -> bool:
        """Whether ``reader`` reads ``writer``, without recording why not (a trial for a union branch)."""
        trial = _Checker.__new__(_Checker)
        trial.reader_names, trial.writer_names = self.reader_names, self.writer_names
        trial.in_progress, trial.found = set(self.in_progress), []
        trial.check(reader, writer, path)
        return not trial.found

    def problem(self, error_type: str, description: str, path: str) -> None:
        self.found.append(Incompatibility(error_type, description, path or "/"))

    def check(self, reader: Any, writer: Any, path: str) -> None:
        r = self.resolve(reader, self.reader_names)
        w = self.resolve(writer, self.writer_names)
        if isinstance(w, list):  # every writer branch must be readable
            for branch in w:
                self.check(r, branch, path)
            return
        if isinstance(r, list):  # some reader branch must read the writer
            if not any(self.readable(branch, w, path) for branch in r):
                self.problem("MISSING_UNION_BRANCH", f"reader union lacking writer type: {_kind(w)}", path)
            return
        rk, wk = _kind(r), _kind(w)
        if rk != wk:
            if rk in _PROMOTIONS.get(wk, set()):
                return
            self.problem("TYPE_MISMATCH", f"reader type: {rk} not compatible with writer type: {wk}", path)
            return
        if rk in ("record", "error", "enum", "fixed"):
            self.named(r, w, rk, path)
        elif rk == "array":
            self.check(r["items"], w["items"], f"{path}/items")
        elif rk == "map":
            self.check(r["values"], w["values"], f"{path}/values")
        elif (
            isinstance(r, dict) and isinstance(w, dict) and r.get("logicalType") == "decimal" == w.get("logicalType")
        ) and (r.get("precision"), r.get("scale", 0)) != (w.get("precision"), w.get("scale", 0)):
            self.problem("TYPE_MISMATCH", "decimal precision and scale differ between reader and writer", path)

    def named(self, r: dict[str, Any], w: dict[str, Any], kind: str, path: str) -> None:
        r_short, w_short = _short(r["name"]), _short(w["name"])
        aliases = {_short(a) for a in r.get("aliases", [])}
        if r_short != w_short and w_short not in aliases:
            self.problem("NAME_MISMATCH", f"expected: {w['name']}", f"{path}/name")
            return
        if kind == "fixed":
            if r["size"] != w["size"]:
                self.problem("FIXED_SIZE_MISMATCH", f"expected: {w['size']}, found: {r['size']}", f"{path}/size")
        elif kind == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                self.problem("MISSING_ENUM_SYMBOLS", ", ".join(missing), f"{path}/symbols")
        else:
            pair = (r["name"], w["name"])
            if pair in self.in_progress:  # recursive type: assume compatible, the outer check decides
                return
            self.in_progress.add(pair)
            self.fields(r, w, path)
            self.in_progress.discard(pair)

    def fields(self, r: dict[str, Any], w: dict[str, Any], path: str) -> None:
        writer_fields = {f["name"]: f for f in w["fields"]}
        for i, rf in enumerate(r["fields"]):
            wf = writer_fields.get(rf["name"])
            if wf is None:
                wf = next((writer_fields[a] for a in rf.get("aliases", []) if a in writer_fields), None)
            if wf is not None:
                self.check(rf["type"], wf["type"], f"{path}/fields/{i}/type")
            elif "default" not in rf:
                self.problem(
                    "READER_FIELD_MISSING_DEFAULT_VALUE",
                    f"The field '{rf['name']}' at path '{path}/fields/{i}' in the reader schema has no "
                    "default value and is missing in the writer schema",
                    f"{path}/fields/{i}",
                )


def _kind(node: Any) -> str:
    if isinstance(node, dict):
        return _kind(node["type"]) if isinstance(node["type"], dict | list) else str(node["type"])
    if isinstance(node, list):
        return "union"
    return str(node)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def can_read(reader: ParsedSchema, writer: ParsedSchema) -> list[Incompatibility]:
    """What stops ``reader`` from reading data written with ``writer``; empty when it can."""
    checker = _Checker(reader, writer)
    checker.check(reader.parsed, writer.parsed, "")
    return checker.found


def check(level: str, new: ParsedSchema, previous: Sequence[ParsedSchema]) -> list[str]:
    """Messages saying why ``new`` breaks ``level`` against ``previous`` (oldest first); empty if it does not.

    Non-transitive levels look at the last previous schema only."""
    if level == "NONE" or not previous:
        return []
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    messages: list[str] = []
    for old in reversed(against):
        found: list[Incompatibility] = []
        if level.startswith(("BACKWARD", "FULL")):
            found += can_read(new, old)
        if level.startswith(("FORWARD", "FULL")):
            found += [
                Incompatibility(i.error_type, f"{i.description} (old schema reading the new one)", i.path)
                for i in can_read(old, new)
            ]
        if found:
            messages += [str(i) for i in found]
            messages.append(f"{{oldSchema: '{old.text}'}}")
    if messages:
        messages.append(f"{{compatibility: '{level}'}}")
    return messages
