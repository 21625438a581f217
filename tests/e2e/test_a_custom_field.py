"""A custom field reaches the other side with three data edits and no code.

The tenant has a custom column on accounts (``new_loyaltytier``, a maker's column with the publisher prefix
``new_``) and the ERP environment an extension field on customers (``ContosoLoyaltyTier``): the sandboxes are
told so, as a real tenant simply has them. The customer maps one to the other in directories of their own,
outside the package: the CRM accounts' change schema, the ERP customers' write schema and the accounts
template, one edit each (``tests/support/custom_field.py``). ``p2c templates check`` passes them, ``p2c up``
runs with them, and a value set in the CRM arrives in the ERP, then a change of it.

Named to run before the other e2e modules: it starts a ``p2c up`` of its own, and the package's shared one is
not started yet (two whole pipelines at once would crowd this machine).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import p2c
from p2c.process import p2c_command
from tests.e2e.conftest import Running, start_up
from tests.support.custom_field import COLUMN, ERP_FIELD, customize_accounts, own_dirs
from tests.support.odata import ODataClient, crm, erp, wait_for

pytestmark = pytest.mark.timeout(300)

TENANT_COLUMNS = f'[[column]]\ntable = "account"\nname = "{COLUMN}"\ntype = "String"\nmax_length = 20\n'
EXTENSION_FIELDS = f'[[field]]\nentity = "CustomersV3"\nname = "{ERP_FIELD}"\ntype = "String"\n'


@pytest.fixture(scope="module")
def customer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The customer's directory, with the three edits, outside the package."""
    root = tmp_path_factory.mktemp("contoso")
    assert not root.resolve().is_relative_to(Path(p2c.__file__).resolve().parents[1])
    customize_accounts(*own_dirs(root))
    return root


@pytest.fixture(scope="module")
def customized_up(customer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tenant = tmp_path_factory.mktemp("tenant")
    (tenant / "crm-columns.toml").write_text(TENANT_COLUMNS)
    (tenant / "erp-fields.toml").write_text(EXTENSION_FIELDS)
    running = start_up(
        tmp_path_factory.mktemp("p2c-up-custom"),
        "--templates-dir",
        str(customer_dir / "templates"),
        "--schemas-dir",
        str(customer_dir / "schemas"),
        "--no-seed",
        env={
            "P2C_CRM_CUSTOM_COLUMNS": str(tenant / "crm-columns.toml"),
            "P2C_ERP_EXTENSION_FIELDS": str(tenant / "erp-fields.toml"),
        },
    )
    yield running
    running.process.stop(timeout=30)


def customer(client: ODataClient, number: str) -> dict[str, Any] | None:
    rows = client.get_all("CustomersV3", {"cross-company": "true", "$filter": f"CustomerAccount eq '{number}'"})
    return rows[0] if rows else None


def test_the_three_edits_pass_the_check(customer_dir: Path) -> None:
    argv = p2c_command(
        "templates",
        "check",
        "--no-registry",
        "--templates-dir",
        str(customer_dir / "templates"),
        "--schemas-dir",
        str(customer_dir / "schemas"),
    )
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=customer_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates and 0 value maps" in result.stdout and "2 schemas" in result.stdout


def test_a_custom_column_set_in_the_crm_arrives_in_the_erp_extension_field(customized_up: Running) -> None:
    c, e = crm(customized_up.crm_url), erp(customized_up.erp_url)
    created = c.post("accounts", {"name": "Contoso Loyal", "address1_country": "Germany", COLUMN: "Gold"}).json()
    number = created["accountnumber"]
    row = wait_for("the customer with its loyalty tier", lambda: customer(e, number), timeout=60)
    assert row[ERP_FIELD] == "Gold" and row["OrganizationName"] == "Contoso Loyal"

    c.patch(f"accounts({created['accountid']})", {COLUMN: "Platinum"})
    wait_for(
        "the changed loyalty tier",
        lambda: ((r := customer(e, number)) is not None and r[ERP_FIELD] == "Platinum") or None,
        timeout=60,
    )
    streams_log = customized_up.log("streams")
    assert "Traceback" not in streams_log
