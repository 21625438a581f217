"""The FinOps sink against a fake FinOps: dedupe, version guard, PATCH vs POST, deletes, rejects, throttling."""

from __future__ import annotations

from typing import Any

import pytest

from p2c.connectors.base.sink import SinkRecord
from p2c.connectors.core.writes import or_filters
from p2c.connectors.finops.sink import FinOpsSink
from p2c.connectors.finops.targets import CUSTOMERS
from p2c.errors import RetriableError

from .fakes import FakeFinOps

pytestmark = pytest.mark.timeout(10)

_offset = iter(range(1_000_000))


def write(account: str, version: int, op: str = "UPSERT", entity: str = "accounts", **fields: Any) -> SinkRecord:
    record = {
        "dataAreaId": "usmf",
        "CustomerAccount": account,
        "OrganizationName": f"{account} v{version}",
        "CustomerGroupId": "10",
        **fields,
    }
    value = {
        "op": op,
        "record": record,
        "origin": {"system": "crm", "entity": entity, "id": account, "version": version, "ts_ms": 0},
    }
    return SinkRecord(CUSTOMERS.topic, 0, next(_offset), f"usmf|{account}", value)


def sink(erp: FakeFinOps) -> FinOpsSink:
    return FinOpsSink(erp.client(), CUSTOMERS, company="usmf")


def test_new_keys_are_posted_existing_patched_with_the_source_version() -> None:
    erp = FakeFinOps()
    erp.rows[("usmf", "b")] = {"dataAreaId": "usmf", "CustomerAccount": "B", "P2CSourceVersion": 1, "Keep": "me"}
    result = sink(erp).write([write("A", 5), write("B", 6)])
    assert len(result.written) == 2 and not result.rejected
    assert erp.rows[("usmf", "a")]["P2CSourceVersion"] == 5
    assert erp.rows[("usmf", "b")] == {
        "dataAreaId": "usmf",
        "CustomerAccount": "B",
        "P2CSourceVersion": 6,
        "Keep": "me",
        "OrganizationName": "B v6",
        "CustomerGroupId": "10",
    }
    assert erp.gets == 1 and erp.batches == [2]


def test_dedupe_keeps_the_newest_version_per_key() -> None:
    erp = FakeFinOps()
    batch = [write("A", 3), write("a", 9), write("A", 7)]
    result = sink(erp).write(batch)
    assert erp.rows[("usmf", "a")]["OrganizationName"] == "a v9"
    assert len(result.written) == 1 and len(result.skipped) == 2 and erp.batches == [1]


def test_an_older_version_never_overwrites_a_newer_one_and_replays_are_noops() -> None:
    erp = FakeFinOps()
    erp.rows[("usmf", "a")] = {
        "dataAreaId": "usmf",
        "CustomerAccount": "A",
        "OrganizationName": "new",
        "P2CSourceVersion": 10,
    }
    s = sink(erp)
    result = s.write([write("A", 9), write("A", 10)])
    assert erp.rows[("usmf", "a")]["OrganizationName"] == "new"
    assert len(result.skipped) == 2 and not result.written and erp.batches == []
    s.write([write("B", 1)])
    replay = s.write([write("B", 1)])
    assert len(replay.skipped) == 1 and erp.batches == [1]


def test_delete_puts_the_customer_on_hold_and_skips_unknown_ones() -> None:
    erp = FakeFinOps()
    erp.rows[("usmf", "a")] = {
        "dataAreaId": "usmf",
        "CustomerAccount": "A",
        "OnHoldStatus": "No",
        "P2CSourceVersion": 1,
    }
    result = sink(erp).write([write("A", 2, op="DELETE"), write("GHOST", 2, op="DELETE")])
    assert erp.rows[("usmf", "a")]["OnHoldStatus"] == "All" and erp.rows[("usmf", "a")]["P2CSourceVersion"] == 2
    assert len(result.written) == 1 and len(result.skipped) == 1 and ("usmf", "ghost") not in erp.rows


def test_a_rejected_record_fails_alone_and_names_its_flow() -> None:
    erp = FakeFinOps(
        reject=lambda body: "Customer group 99 does not exist" if body.get("CustomerGroupId") == "99" else None
    )
    s = sink(erp)
    bad = write("BAD", 1, entity="contacts", CustomerGroupId="99")
    result = s.write([write("A", 1), bad, write("C", 1)])
    assert {r.key for r in result.written} == {"usmf|A", "usmf|C"}
    assert len(result.rejected) == 1
    record, error = result.rejected[0]
    assert record is bad and "Customer group 99 does not exist" in str(error)
    assert s.flow_of(record) == "contacts"


def test_post_that_lost_a_race_is_replanned_as_patch() -> None:
    erp = FakeFinOps()
    s = sink(erp)
    original = s.current_versions

    def stale(keys: Any) -> Any:
        found = original(keys)
        if not erp.rows.get(("usmf", "a"), {}).get("raced"):
            erp.rows[("usmf", "a")] = {
                "dataAreaId": "usmf",
                "CustomerAccount": "A",
                "P2CSourceVersion": 1,
                "raced": True,
            }
        return found

    s.current_versions = stale  # type: ignore[method-assign]
    result = s.write([write("A", 4)])
    assert len(result.written) == 1 and not result.rejected
    assert erp.rows[("usmf", "a")]["P2CSourceVersion"] == 4


def test_missing_key_is_rejected() -> None:
    result = sink(FakeFinOps()).write([write("", 1)])
    assert result.rejected and "CustomerAccount" in str(result.rejected[0][1])


def test_throttled_batch_raises_retriable_with_retry_after() -> None:
    erp = FakeFinOps(throttle=10)
    with pytest.raises(RetriableError) as info:
        sink(erp).write([write("A", 1)])
    assert info.value.retry_after == 0.0


def test_version_filter_is_chunked_for_large_batches() -> None:
    erp = FakeFinOps()
    s = sink(erp)
    result = s.write([write(f"ACC-{i:05d}-XXXXXX", 1) for i in range(1000)])
    assert len(result.written) == 1000 and erp.gets > 1 and erp.batches == [1000]
    clauses = [CUSTOMERS.key_filter(("usmf", f"ACC-{i:05d}")) for i in range(1000)]
    assert all(len(f) <= 3100 for f in or_filters(clauses))


def test_key_path_escapes_quotes() -> None:
    assert CUSTOMERS.key_path(("usmf", "O'Neil/1")) == "CustomersV3(dataAreaId='usmf',CustomerAccount='O''Neil%2F1')"
