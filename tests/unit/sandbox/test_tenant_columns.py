"""A tenant's own columns (sandbox/tenant_columns.py): served like the others, refused when the service would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.sandbox import tenant_columns
from p2c.sandbox.crm import tables
from p2c.sandbox.erp import entities as erp
from p2c.sandbox.odata.model import Type
from p2c.sandbox.tenant_columns import CRM_ENV, ERP_ENV


@pytest.fixture
def fresh_tables() -> Iterator[None]:
    tables.tables.cache_clear()
    yield
    tables.tables.cache_clear()  # made again, without the test's columns, by the next that asks


def test_a_custom_column_of_the_tenant_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_tables: None
) -> None:
    path = tmp_path / "columns.toml"
    path.write_text('[[column]]\ntable = "account"\nname = "new_loyaltytier"\ntype = "String"\nmax_length = 20\n')
    monkeypatch.setenv(CRM_ENV, str(path))
    account = tables.tables()["account"]
    column = account.columns["new_loyaltytier"]
    assert column.custom and column.max_length == 20
    assert account.entity.by_name["new_loyaltytier"].type is Type.STRING
    assert "new_loyaltytier" not in tables.tables()["contact"].columns


def test_a_column_without_a_publisher_prefix_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_tables: None
) -> None:
    path = tmp_path / "columns.toml"
    path.write_text('[[column]]\ntable = "account"\nname = "loyaltytier"\ntype = "String"\n')
    monkeypatch.setenv(CRM_ENV, str(path))
    with pytest.raises(ValueError, match=r"columns.toml, account.loyaltytier: not a name the service allows"):
        tables.tables()


def test_an_extension_field_is_added_to_its_entity_and_a_clash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fields.toml"
    path.write_text('[[field]]\nentity = "CustomersV3"\nname = "ContosoLoyaltyTier"\ntype = "String"\n')
    monkeypatch.setenv(ERP_ENV, str(path))
    customers = erp._extended(erp.CUSTOMERS)
    assert customers.by_name["ContosoLoyaltyTier"].type is Type.STRING
    assert customers.key == erp.CUSTOMERS.key and erp._extended(erp.CONTACTS) == erp.CONTACTS
    path.write_text('[[field]]\nentity = "CustomersV3"\nname = "CustomerAccount"\ntype = "String"\n')
    tenant_columns._entries.cache_clear()
    with pytest.raises(ValueError, match=r"extension fields \['CustomerAccount'\] of CustomersV3"):
        erp._extended(erp.CUSTOMERS)
