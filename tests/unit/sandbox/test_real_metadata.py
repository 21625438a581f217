"""Every table, column and key the CRM sandbox serves, and every column p2c selects or writes, checked against the
real metadata (``shared/domain/real-metadata/dataverse.json``, shipped as ``sandbox/data/dataverse.json``).

What the reference file does not hold is allowed only where it is listed in one place: the P2C solution's columns
(``streams/templates/p2c-solution.toml``), the two tables the file leaves out (``transactioncurrency``,
``systemuser``), and the writability facts Microsoft's table reference states beyond the file (``OVERRIDES``)."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from p2c.connectors.core.batch import ChangeSet
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.dataverse.pricing import Bindings
from p2c.connectors.dataverse.sink import ProductSink
from p2c.connectors.dataverse.streams import STREAMS
from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.customization import P2C_KEYS
from p2c.sandbox.crm.tables import OVERRIDES, SYSTEM_TABLES, solution_columns, tables
from tests.unit.connectors import sandboxes
from tests.unit.connectors.test_product_sink import write

SHARED = Path(__file__).resolve().parents[4] / "shared" / "domain" / "real-metadata" / "dataverse.json"


def real() -> dict[str, Any]:
    text = resources.files("p2c.sandbox").joinpath("data/dataverse.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def solution() -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["table"], c["name"]): c for c in solution_columns()}


def column_of(field_name: str) -> str:
    """``_parentcustomerid_value`` -> ``parentcustomerid``."""
    if field_name.startswith("_") and field_name.endswith("_value"):
        return field_name[1:-6]
    return field_name


def known(table: str, column: str) -> bool:
    props = real().get(table, {}).get("properties", {}) or SYSTEM_TABLES.get(table, {}).get("properties", {})
    return column in props or (table, column) in solution()


@pytest.mark.skipif(not SHARED.exists(), reason="shared/ is not beside the repository")
def test_the_shipped_copy_is_the_real_metadata() -> None:
    assert json.loads(SHARED.read_text()) == json.loads(
        resources.files("p2c.sandbox").joinpath("data/dataverse.json").read_text()
    )


def test_every_table_served_is_in_the_real_metadata_or_listed() -> None:
    served = {t.logical_name: t.entity_set for t in tables().values()}
    reference = {name: spec["entity_set"] for name, spec in real().items()}
    assert {k: v for k, v in served.items() if k in reference} == reference
    assert set(served) - set(reference) == set(SYSTEM_TABLES) == {"transactioncurrency", "systemuser"}


def test_every_column_served_is_real_with_its_type_and_writability() -> None:
    for logical, table in tables().items():
        spec = real().get(logical) or SYSTEM_TABLES[logical]
        props = spec["properties"]
        for field in table.entity.fields:
            name = column_of(field.name)
            if (logical, name) in solution():
                continue
            assert name in props, f"{logical}.{name} is served but not in the real metadata"
            prop = {**props[name], **OVERRIDES.get((logical, name), {})}
            assert field.type.value == prop["webapi_type"], f"{logical}.{name}"
            writable = prop.get("writable", True)
            assert field.creatable == (writable and prop.get("valid_for_create", True)), f"{logical}.{name}"
            assert field.updatable == (writable and prop.get("valid_for_update", True)), f"{logical}.{name}"
            assert field.is_lookup == bool(prop.get("targets")), f"{logical}.{name}"


def test_the_overrides_are_stricter_facts_from_the_table_reference() -> None:
    for (table, column), facts in OVERRIDES.items():
        assert column in real()[table]["properties"]
        assert set(facts) <= {"valid_for_create", "valid_for_update"} and not any(facts.values())


def test_the_solution_columns_are_not_in_the_reference_and_are_served() -> None:
    for (table, column), spec in solution().items():
        assert column not in real()[table]["properties"], f"{table}.{column} is documented: drop it from the list"
        assert E.BY_LOGICAL[table].get(column) is not None
        assert spec["display_name"]


def test_every_key_p2c_upserts_by_is_on_a_real_or_listed_column() -> None:
    for table, _name, columns in P2C_KEYS:
        for column in columns:
            assert known(table, column), f"alternate key column {table}.{column}"


@pytest.mark.parametrize("entity_set", sorted(STREAMS))
def test_every_column_the_crm_source_selects_is_real(entity_set: str) -> None:
    logical = E.BY_SET[entity_set].logical_name
    for name in STREAMS[entity_set].select:
        assert known(logical, column_of(name)), f"the CRM source selects {logical}.{name}"


def test_every_column_the_crm_sink_writes_is_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crm = sandboxes.crm(tmp_path)[0]
    client = crm.client()
    sink = ProductSink(
        client, VersionStore(tmp_path / "versions", "products"), bindings=Bindings(client, min_reload=0.0)
    )
    sent: list[ChangeSet] = []
    original = sink.batch.send

    def capture(changesets: list[ChangeSet]) -> Any:
        sent.extend(changesets)
        return original(changesets)

    monkeypatch.setattr(sink.batch, "send", capture)
    sink.write([write("P-1", 1, currentcost=Decimal("2"), producttypecode=1, quantitydecimal=2, description="d")])
    sink.write([write("P-1", 2)])
    sink.write([write("P-1", 3, op="DELETE")])
    written = 0
    for changeset in sent:
        for op in changeset.operations:
            entity_set = op.path.split("(", 1)[0]
            logical = E.BY_SET[entity_set].logical_name
            for name in op.body or {}:
                written += 1
                assert known(logical, name.removesuffix("@odata.bind")), f"the CRM sink writes {logical}.{name}"
    assert written > 20
