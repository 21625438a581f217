"""The flow declaration (``p2c.flows.FLOWS``) is the only list of flows in the code.

Two guards, because a second list can hide in two ways:

* in the source: a literal tuple, list, set, dict or comma-separated string that names two or more flows and
  nothing else (``("accounts", "contacts", ...)``, ``{"accounts": ..., "contacts": ...}``), anywhere outside
  the declaration;
* at run time: a module-level value (containers, dataclass instances, click options' choices) of every
  module p2c ships that holds such a collection and is not the declaration's own object (``flows.NAMES``,
  ``flows.FLOWS``). A list built from the declaration at import time is a copy: use the declaration's.

Then every structure that is keyed by flow is checked to be derived from it. The sandboxes and the registry
stand in for other services and know no flows; they are not scanned.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

import p2c
from p2c import flows, status
from p2c.control.dlq_cli import dlq
from p2c.streams.settings import StreamsSettings

ROOT = Path(__file__).resolve().parents[2]
NAMES = set(flows.NAMES)
SCANNED = ("p2c", "streams", "connectors", "schemas", "control")
#: collections of names that are not flows but are spelled like some: each with why
NOT_FLOWS = {
    "p2c.streams.quotes.CUSTOMER_JOINS": "join dependencies (CRM tables: accounts, contacts), not flows",
}
NOT_SCANNED = ("p2c.sandbox", "p2c.registry", "p2c.flows", "p2c.__main__")  # __main__ runs the CLI


def names_flows(strings: list[str]) -> bool:
    """Two or more flow names and nothing else."""
    return len(set(strings) & NAMES) >= 2 and set(strings) <= NAMES


def comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",")] if "," in value else []


# ---- in the source --------------------------------------------------------------------------------------


def source_files() -> Iterator[Path]:
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.resolve() != (ROOT / "p2c" / "flows.py").resolve() and not path.is_symlink():
                yield path


def literal_lists(tree: ast.AST) -> Iterator[tuple[int, list[str]]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            yield node.lineno, [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            values = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            yield node.lineno, keys
            yield node.lineno, values
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, comma_list(node.value)


def test_no_literal_list_of_flows_outside_the_declaration() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {strings}"
        for path in source_files()
        if "/p2c/sandbox/" not in str(path) and "/p2c/registry/" not in str(path)
        for line, strings in literal_lists(ast.parse(path.read_text(), str(path)))
        if names_flows(strings)
    ]
    assert offenders == [], "derive these from p2c.flows:\n" + "\n".join(offenders)


def test_the_source_guard_sees_a_second_list() -> None:
    found = [s for _, s in literal_lists(ast.parse('X = ("accounts", "quotes")\nY = {"products": 1, "contacts": 2}'))]
    assert ["accounts", "quotes"] in found and ["products", "contacts"] in found
    assert not any(names_flows(s) for _, s in literal_lists(ast.parse('Z = ("accounts", "quotedetails")')))


# ---- at run time ----------------------------------------------------------------------------------------


def modules() -> Iterator[Any]:
    for info in pkgutil.walk_packages(p2c.__path__, "p2c."):
        if not info.name.startswith(NOT_SCANNED):
            yield importlib.import_module(info.name)


def strings_in(value: Any, seen: set[int], depth: int = 0) -> Iterator[list[str]]:
    """Every collection of strings reachable from ``value`` (through containers, dataclasses, click options)."""
    if id(value) in seen or depth > 6:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield comma_list(value)
    elif isinstance(value, dict):
        yield [k for k in value if isinstance(k, str)]
        yield [v for v in value.values() if isinstance(v, str)]
        for v in value.values():
            yield from strings_in(v, seen, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        yield [v for v in value if isinstance(v, str)]
        for v in value:
            yield from strings_in(v, seen, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from strings_in(getattr(value, f.name), seen, depth + 1)
    elif isinstance(value, click.Command):
        for param in value.params:
            yield from strings_in(getattr(param.type, "choices", None), seen, depth + 1)
            yield from strings_in(param.default, seen, depth + 1)
        for sub in getattr(value, "commands", {}).values():
            yield from strings_in(sub, seen, depth + 1)


def test_no_module_holds_a_second_list_of_flows() -> None:
    declared: set[int] = set()
    for value in vars(flows).values():
        for _ in strings_in(value, declared):  # marks everything reachable from the declaration as its own
            pass
    offenders = []
    for module in modules():
        seen = set(declared)
        for name, value in vars(module).items():
            where = f"{module.__name__}.{name}"
            if where in NOT_FLOWS:
                continue
            if not name.startswith("__") and any(names_flows(s) for s in strings_in(value, seen)):
                offenders.append(where)
    assert offenders == [], "use the declaration's own objects (p2c.flows.NAMES, FLOWS):\n" + "\n".join(offenders)


# ---- what is keyed by flow comes from the declaration -----------------------------------------------------


def test_flow_keyed_structures_are_derived_from_the_declaration() -> None:
    assert tuple(f.name for f in flows.FLOWS) == flows.NAMES
    assert [t.name for t in flows.DEAD_LETTER_TOPICS] == [f"p2c.dlq.{name}" for name in flows.NAMES]
    assert StreamsSettings.model_fields["flows"].default is flows.NAMES
    assert vars(status)["FLOWS"] is flows.FLOWS
    for name in ("list", "retry"):  # show and discard take a letter id, which names its flow
        [flow_option] = [p for p in dlq.commands[name].params if p.name == "flow"]
        assert getattr(flow_option.type, "choices", None) is flows.NAMES


def test_the_sinks_and_sources_take_their_defaults_from_the_declaration() -> None:
    from p2c.connectors.dataverse.streams import streams_for as crm_streams
    from p2c.connectors.dataverse.targets import targets_for as crm_targets
    from p2c.connectors.finops.catalog import targets_for as erp_targets
    from p2c.connectors.finops.source import streams_for as erp_streams

    read = {t.name for t in flows.SOURCE_TOPICS}
    written = {t.name for t in flows.TARGET_TOPICS}
    assert {s.topic for s in crm_streams([])} | {s.topic for s in erp_streams([])} == read
    assert {t.topic for t in crm_targets([])} | {t.topic for t in erp_targets([])} == written
    for stream in crm_streams([]):
        assert stream.flow in flows.NAMES
    for erp_stream in erp_streams([]):
        assert erp_stream.flow in flows.NAMES
