"""``p2c setup crm``'s check and apply against the CRM sandbox in-process: a tenant without change tracking on
contacts and without the products key is refused by name, and set up by --apply (the key waited for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2c.connectors.dataverse.setup import TenantSetup, check, needs
from p2c.connectors.dataverse.streams import streams_for
from p2c.errors import ConfigurationError
from p2c.sandbox.crm.app import Tenant

from . import sandboxes

DEFAULT_ENTITIES = [s.entity_set for s in streams_for([])]  # every entity set the flows read


def test_a_tenant_set_up_for_p2c_has_no_problem(tmp_path: Path) -> None:
    crm = sandboxes.crm(tmp_path)[0]
    assert TenantSetup(crm.client()).problems(needs(DEFAULT_ENTITIES, sink=True)) == []


def test_what_is_missing_is_named_and_apply_sets_it_up(tmp_path: Path) -> None:
    crm, store = sandboxes.crm(tmp_path, tenant=Tenant(untracked=("contact",), without_keys=("product",)))
    source, sink = needs(DEFAULT_ENTITIES), needs(sink=True)
    with pytest.raises(ConfigurationError) as refused:
        check(crm.client(), source, "the CRM source")
    assert "CRM table contact: change tracking is off; fix: turn on Track changes for contact" in str(refused.value)
    with pytest.raises(ConfigurationError) as refused:
        check(crm.client(), sink, "the CRM sink")
    assert "CRM table product: no alternate key on productnumber" in str(refused.value)
    assert "p2c setup crm --apply" in str(refused.value)

    waits: list[float] = []

    def sleep(seconds: float) -> None:  # waiting for the key: the index is built meanwhile
        waits.append(seconds)
        store.custom.clock = lambda: 1e12

    setup = TenantSetup(crm.client(), sleep=sleep)
    assert setup.apply(needs(DEFAULT_ENTITIES, sink=True)) == []
    assert waits, "apply waited for the key index to leave Pending"
    assert store.custom.tracked("contact")
    assert [(k.schema_name, k.attributes, k.status) for k in store.custom.keys("product")] == [
        ("p2c_productnumber", ["productnumber"], "Active")
    ]
    check(crm.client(), source, "the CRM source")
    check(crm.client(), sink, "the CRM sink")


def test_a_missing_solution_column_names_its_fix(tmp_path: Path) -> None:
    crm = sandboxes.crm(tmp_path)[0]
    wanted = needs(["contacts"])
    wanted["contacts"].columns.add("msdynce_notthere")
    problems = TenantSetup(crm.client()).problems(wanted)
    assert [str(p) for p in problems] == [
        "CRM table contact: column msdynce_notthere is missing; fix: install the Prospect to cash solution for "
        "Dynamics 365 Sales (or add the column)"
    ]
