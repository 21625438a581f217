"""The CRM sandbox as a tenant: keys and change tracking a maker sets up, columns refused as Dataverse refuses
them, service protection's three limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.app import open_store
from p2c.sandbox.crm.protection import CONCURRENCY_CODE, EXECUTION_TIME_CODE, REQUESTS_CODE, Limits, ServiceProtection
from p2c.sandbox.crm.service import CrmService
from p2c.sandbox.crm.store import CrmStore, Tenant, application_user_id
from p2c.sandbox.odata.service import Request, Response

USER = application_user_id("p2c")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(service: CrmService, method: str, path: str, body: Any = None, **headers: str) -> Response:
    raw = json.dumps(body).encode() if body is not None else b""
    query: dict[str, str] = {}
    if "?" in path:
        path, qs = path.split("?", 1)
        query = dict(p.split("=", 1) for p in qs.split("&"))
    req = Request(method, path, query, {k.lower().replace("_", "-"): v for k, v in headers.items()}, raw, "p2c", "")
    return service.handle(req)


def tenant(tmp_path: Path, **kw: Any) -> tuple[CrmStore, CrmService]:
    store = open_store(tmp_path, Tenant(**kw))
    return store, CrmService(store, 3600)


def test_a_tenant_without_change_tracking_answers_without_a_delta_link(tmp_path: Path) -> None:
    store, service = tenant(tmp_path, untracked=("contact",))
    store.create(E.CONTACTS, {"lastname": "Ng"}, USER)
    r = call(service, "GET", "contacts", prefer="odata.track-changes")
    body = json.loads(r.body)
    assert r.status == 200 and len(body["value"]) == 1 and "@odata.deltaLink" not in body
    assert "odata.track-changes" not in r.headers.get("Preference-Applied", "")
    refused = call(service, "GET", "contacts?$deltatoken=1!01/01/2026 00:00:00")
    assert refused.status == 400 and "isn't enabled for change tracking" in json.loads(refused.body)["error"]["message"]
    definition = json.loads(call(service, "GET", "EntityDefinitions(LogicalName='contact')").body)
    assert definition["ChangeTrackingEnabled"] is False
    assert (
        call(service, "PUT", "EntityDefinitions(LogicalName='contact')", {"ChangeTrackingEnabled": True}).status == 204
    )
    tracked = json.loads(call(service, "GET", "contacts", prefer="odata.track-changes").body)
    assert "@odata.deltaLink" in tracked
    off = call(service, "PUT", "EntityDefinitions(LogicalName='contact')", {"ChangeTrackingEnabled": False})
    assert off.status == 400  # once on, it stays on
    listed = json.loads(
        call(service, "GET", "EntityDefinitions?$select=LogicalName&$filter=ChangeTrackingEnabled eq false").body
    )
    assert "contact" not in {e["LogicalName"] for e in listed["value"]}


def test_a_key_created_through_the_metadata_api_is_pending_then_active(tmp_path: Path) -> None:
    clock = Clock()
    store, service = tenant(tmp_path, without_keys=("product",))
    store.custom.clock = clock
    store.create(E.PRODUCTS, {"productnumber": "P-1", "name": "One"}, USER)
    assert call(service, "GET", "products(productnumber='P-1')").status == 400  # no such key yet
    keys = json.loads(call(service, "GET", "EntityDefinitions(LogicalName='product')/Keys").body)["value"]
    assert keys == []
    created = call(
        service,
        "POST",
        "EntityDefinitions(LogicalName='product')/Keys",
        {"SchemaName": "p2c_productnumber", "KeyAttributes": ["productnumber"]},
    )
    assert created.status == 204 and "/Keys(" in created.headers["OData-EntityId"]
    statuses = [
        k["EntityKeyIndexStatus"]
        for k in json.loads(call(service, "GET", "EntityDefinitions(LogicalName='product')/Keys").body)["value"]
    ]
    assert statuses == ["Pending"]
    assert call(service, "GET", "products(productnumber='P-1')").status == 400  # not usable while Pending
    clock.now += 5
    assert call(service, "GET", "products(productnumber='P-1')").status == 200
    assert [k.status for k in store.custom.keys("product")] == ["Active"]


def test_a_key_on_duplicate_values_fails(tmp_path: Path) -> None:
    clock = Clock()
    store, _service = tenant(tmp_path, without_keys=("account",))
    store.custom.clock = clock
    store.create(E.ACCOUNTS, {"name": "A", "accountnumber": "SAME"}, USER)
    store.create(E.ACCOUNTS, {"name": "B", "accountnumber": "SAME"}, USER)
    store.custom.create_key("account", "dup", ["accountnumber"])
    clock.now += 5
    assert [k.status for k in store.custom.keys("account")] == ["Failed"]


@pytest.mark.parametrize(
    ("entity_set", "body", "message"),
    [
        (
            "products",
            {"productnumber": "P-9", "pricelevelid@odata.bind": "/pricelevels(00000000-0000-0000-0000-000000000001)"},
            "'pricelevelid' of entity 'product' is not valid for create. Set it in an update",
        ),
        ("accounts", {"name": "A", "statecode": 1}, "'statecode' of entity 'account' is not valid for create"),
        (
            "accounts",
            {"name": "A", "createdon": "2024-01-01T00:00:00Z"},
            "'createdon' of entity 'account' is read-only",
        ),
        ("contacts", {"lastname": "L", "fullname": "F L"}, "'fullname' of entity 'contact' is read-only"),
        ("quotes", {"name": "Q", "revisionnumber": 2}, "'revisionnumber' of entity 'quote' is read-only"),
    ],
)
def test_columns_not_valid_for_the_write_are_refused_by_name(
    tmp_path: Path, entity_set: str, body: dict[str, Any], message: str
) -> None:
    _store, service = tenant(tmp_path)
    r = call(service, "POST", entity_set, body)
    assert r.status == 400 and message in json.loads(r.body)["error"]["message"]


def test_a_product_is_draft_until_published_and_an_update_cannot_activate_it(tmp_path: Path) -> None:
    store, service = tenant(tmp_path)
    product = store.create(E.PRODUCTS, {"productnumber": "P-1", "name": "One"}, USER)
    assert (product["statecode"], product["statuscode"]) == (2, 0)
    refused = call(service, "PATCH", "products(productnumber='P-1')", {"statecode": 0, "statuscode": 1})
    assert refused.status == 400 and "PublishProductHierarchy" in json.loads(refused.body)["error"]["message"]
    assert (
        call(service, "POST", "products(productnumber='P-1')/Microsoft.Dynamics.CRM.PublishProductHierarchy", {}).status
        == 204
    )
    published = store.get(E.PRODUCTS, product["productid"])
    assert published is not None and (published["statecode"], published["statuscode"]) == (0, 1)


def test_service_protection_counts_requests_and_makes_a_pushing_client_wait_longer() -> None:
    clock = Clock()
    guard = ServiceProtection(Limits(requests=3, execution_ms=1e9, concurrency=10, window_s=10.0), clock)
    for _ in range(3):
        assert guard.admit("c") is None
        headers = guard.release("c", 5.0)
    assert headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "0"
    refused = guard.admit("c")
    assert refused is not None and refused.status == 429 and refused.code == REQUESTS_CODE
    assert refused.headers["Retry-After"] == "10"
    assert "limit of 3 over time window of 10 seconds" in refused.message
    clock.now += 2  # pushing before Retry-After: refused again, and the wait grows
    again = guard.admit("c")
    assert again is not None and int(again.headers["Retry-After"]) == 9 and guard.early_requests == 1
    clock.now += 1
    third = guard.admit("c")
    assert third is not None and int(third.headers["Retry-After"]) == 10 and guard.early_requests == 2
    clock.now += 10
    assert guard.admit("c") is None  # waited as told: admitted
    assert guard.admit("other") is None  # limits are per user


def test_service_protection_limits_execution_time_and_concurrency() -> None:
    clock = Clock()
    guard = ServiceProtection(Limits(requests=100, execution_ms=1000.0, concurrency=2, window_s=10.0), clock)
    assert guard.admit("c") is None and guard.admit("c") is None
    busy = guard.admit("c")
    assert busy is not None and busy.code == CONCURRENCY_CODE and busy.headers["Retry-After"] == "1"
    clock.now += 1
    guard.release("c", 700.0)
    guard.release("c", 400.0)
    slow = guard.admit("c")
    assert slow is not None and slow.code == EXECUTION_TIME_CODE and "1,000 milliseconds" in slow.message


def test_scaled_limits_are_a_fraction_of_the_documented_ones() -> None:
    assert Limits().scaled(0.1) == Limits(600, 120_000.0, 5, 30.0)


def test_a_request_already_in_flight_on_another_connection_is_refused_but_not_counted_as_pushing() -> None:
    clock = Clock()
    guard = ServiceProtection(Limits(requests=100, execution_ms=1e9, concurrency=1, window_s=10.0), clock)
    first, second = object(), object()
    assert guard.admit("c", first) is None
    assert guard.admit("c", first) is not None  # over the concurrency limit: refused on this connection
    clock.now += 0.1
    assert guard.admit("c", second) is not None and guard.early_requests == 0  # was already on its way
    clock.now += 0.1
    assert guard.admit("c", first) is not None and guard.early_requests == 1  # sent after the 429: pushing
    clock.now += 0.5
    assert guard.admit("c", second) is not None and guard.early_requests == 2  # too late to be in flight
