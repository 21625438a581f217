"""The FinOps sink against the strict ERP sandbox in-process: dedupe, the version store on p2c's side, PATCH vs
POST, deletes, records FinOps rejects (400, or 500 with the Infolog in innererror and a $batch that stops at the
first failed change set), the $batch part limit, throttling."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from p2c.connectors.base.sink import SinkRecord
from p2c.connectors.core.versions import VersionStore
from p2c.connectors.core.writes import or_filters
from p2c.connectors.finops.sink import FinOpsSink
from p2c.connectors.finops.targets import CUSTOMERS, Row, Target
from p2c.errors import RetriableError
from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.store import ErpStore

from . import sandboxes

pytestmark = pytest.mark.timeout(20)

_offset = itertools.count()


def write(account: str, version: int, op: str = "UPSERT", entity: str = "accounts", **fields: Any) -> SinkRecord:
    record = {
        "dataAreaId": "usmf",
        "CustomerAccount": account,
        "PartyType": "Organization",
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


def sink(erp: sandboxes.InProcess, tmp: Path, target: Target = CUSTOMERS, **kw: Any) -> FinOpsSink:
    return FinOpsSink(erp.client(), target, VersionStore(tmp / "state", target.name), sleep=lambda _s: None, **kw)


def customer(store: ErpStore, account: str) -> dict[str, Any] | None:
    return store.get(E.CUSTOMERS, {"dataAreaId": "usmf", "CustomerAccount": account})


def test_new_keys_are_posted_existing_patched_and_their_versions_kept_on_p2cs_side(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    store.create(E.CUSTOMERS, {**write("B", 0).value["record"], "SalesMemo": "kept"})
    s = sink(erp, tmp_path)
    result = s.write([write("A", 5), write("B", 6)])
    assert len(result.written) == 2 and not result.rejected
    b = customer(store, "B")
    assert b is not None and (b["OrganizationName"], b["SalesMemo"]) == ("B v6", "kept")
    assert s.versions.get([("usmf", "a"), ("usmf", "b")]) == {("usmf", "a"): 5, ("usmf", "b"): 6}
    assert erp.count("POST", "$batch") == 1 and erp.count("GET", "CustomersV3") == 1


def test_dedupe_keeps_the_newest_version_per_key(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    result = sink(erp, tmp_path).write([write("A", 3), write("a", 9), write("A", 7)])
    assert customer(store, "A")["OrganizationName"] == "a v9"  # type: ignore[index]
    assert len(result.written) == 1 and len(result.skipped) == 2


def test_an_older_version_never_overwrites_a_newer_one_and_replays_are_noops(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    s = sink(erp, tmp_path)
    s.write([write("A", 10)])
    result = s.write([write("A", 9), write("A", 10)])
    assert customer(store, "A")["OrganizationName"] == "A v10"  # type: ignore[index]
    assert len(result.skipped) == 2 and not result.written
    restarted = sink(erp, tmp_path)  # the versions survive a restart: they are on disk
    assert len(restarted.write([write("A", 10)]).skipped) == 1
    assert erp.count("POST", "$batch") == 1


def test_a_replay_writes_again_what_was_removed_from_the_erp_by_hand(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    s = sink(erp, tmp_path)
    s.write([write("A", 10), write("B", 10)])
    store.delete(E.CUSTOMERS, {"dataAreaId": "usmf", "CustomerAccount": "A"})
    result = s.write([write("A", 10), write("B", 10), write("A", 9)])  # the same writes again, and an older one
    assert [r.key for r in result.written] == ["usmf|A"] and len(result.skipped) == 2
    assert customer(store, "A")["OrganizationName"] == "A v10"  # type: ignore[index]
    deleted = s.write([write("A", 11, op="DELETE")])
    assert len(deleted.written) == 1 and len(s.write([write("A", 11, op="DELETE")]).skipped) == 1


def test_delete_puts_the_customer_on_hold_and_skips_unknown_ones(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    s = sink(erp, tmp_path)
    s.write([write("A", 1)])
    result = s.write([write("A", 2, op="DELETE"), write("GHOST", 2, op="DELETE")])
    assert customer(store, "A")["OnHoldStatus"] == "All"  # type: ignore[index]
    assert len(result.written) == 1 and len(result.skipped) == 1 and customer(store, "GHOST") is None
    assert len(s.write([write("GHOST", 1)]).skipped) == 1  # an older upsert never resurrects a deleted key


def test_a_record_finops_rejects_with_400_fails_alone_and_names_its_flow(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    s = sink(erp, tmp_path)
    bad = write("BAD", 1, entity="contacts", CustomerGroupId="99")
    result = s.write([write("A", 1), bad, write("C", 1)])
    assert {r.key for r in result.written} == {"usmf|A", "usmf|C"}
    ((record, error),) = result.rejected
    assert record is bad and "Customer group '99' does not exist" in str(error)
    assert s.flow_of(record) == "contacts"


def test_a_record_finops_rejects_with_500_inside_a_change_set_is_isolated_with_finops_message(
    tmp_path: Path,
) -> None:
    erp, store = sandboxes.erp(tmp_path, business_errors=500)
    s = sink(erp, tmp_path, retry_budget=3)
    batch = [write(f"A{i}", 1) for i in range(3)] + [write("BAD", 1, CustomerGroupId="99")]
    batch += [write(f"Z{i}", 1) for i in range(3)]
    result = s.write(batch)
    assert {r.key for r in result.written} == {f"usmf|{a}" for a in ("A0", "A1", "A2", "Z0", "Z1", "Z2")}
    ((record, error),) = result.rejected
    assert record.key == "usmf|BAD"
    assert "HTTP 500" in str(error) and "Customer group '99' does not exist (field 'CustomerGroupId')" in str(error)
    assert all(customer(store, a) is not None for a in ("A0", "Z2")) and customer(store, "BAD") is None
    # the retry budget: the bad change set was sent three times, and three more after a fresh look
    assert erp.count("POST", "$batch") == 6


def test_requests_respect_the_batch_part_limit(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path, max_batch_parts=100)
    result = sink(erp, tmp_path, max_operations=100).write([write(f"ACC-{i:04d}", 1) for i in range(250)])
    assert len(result.written) == 250 and erp.count("POST", "$batch") == 3


def test_a_post_that_lost_a_race_is_replanned_as_patch(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)

    class Racing(type(CUSTOMERS)):  # type: ignore[misc]
        def locate(self, client: Any, keys: list[Any]) -> dict[Any, Row]:
            found: dict[Any, Row] = super().locate(client, keys)
            if customer(store, "A") is None:  # someone creates it right after p2c looked
                store.create(E.CUSTOMERS, {**write("A", 0).value["record"], "OrganizationName": "theirs"})
            return found

    racing = Racing(**{f: getattr(CUSTOMERS, f) for f in CUSTOMERS.__dataclass_fields__})
    result = sink(erp, tmp_path, racing).write([write("A", 4)])
    assert len(result.written) == 1 and not result.rejected
    assert customer(store, "A")["OrganizationName"] == "A v4"  # type: ignore[index]


def test_missing_key_is_rejected(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    result = sink(erp, tmp_path).write([write("", 1)])
    assert result.rejected and "CustomerAccount" in str(result.rejected[0][1])


def test_throttled_batch_raises_retriable_with_retry_after(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path)
    erp.fail_next = [429] * 10
    with pytest.raises(RetriableError) as info:
        sink(erp, tmp_path).write([write("A", 1)])
    assert info.value.retry_after == 0.0


def test_the_lookup_filter_is_chunked_for_large_batches(tmp_path: Path) -> None:
    erp, _ = sandboxes.erp(tmp_path, max_batch_parts=1000)
    result = sink(erp, tmp_path, max_operations=1000).write([write(f"ACC-{i:05d}-XXXXXX", 1) for i in range(1000)])
    assert len(result.written) == 1000 and erp.count("GET", "CustomersV3") > 1
    clauses = [CUSTOMERS.key_filter(("usmf", f"ACC-{i:05d}")) for i in range(1000)]
    assert all(len(f) <= 3100 for f in or_filters(clauses))


def test_key_path_escapes_quotes() -> None:
    assert CUSTOMERS.key_path(("usmf", "O'Neil/1")) == "CustomersV3(dataAreaId='usmf',CustomerAccount='O''Neil%2F1')"


def test_a_cleared_field_is_sent_cleared_and_a_field_p2c_does_not_own_keeps_its_value(tmp_path: Path) -> None:
    erp, store = sandboxes.erp(tmp_path)
    s = sink(erp, tmp_path)
    s.write([write("A", 1, PrimaryContactPhone="+1 555 0100", CreditLimit=500, SalesMemo="set by finance")])
    cleared = write("A", 2, PrimaryContactPhone=None, CreditLimit=None, SalesMemo=None)
    cleared.value["cleared"] = ["PrimaryContactPhone", "CreditLimit"]  # SalesMemo: None, but not cleared
    result = s.write([cleared])
    assert len(result.written) == 1 and not result.rejected
    row = customer(store, "A")
    assert row is not None
    assert (row["PrimaryContactPhone"], row["CreditLimit"], row["SalesMemo"]) == ("", 0, "set by finance")
