"""The CRM sandbox as a real process, over real sockets: what a Dataverse client sees."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from p2c.connectors.dataverse.streams import STREAMS
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command

API = "/api/data/v9.2/"
INTEGRATION_USER = "2fc95d15-aa7a-5b27-9e0c-8a133a808630"  # application user of client "p2c"


def token(base: str, client_id: str = "p2c", secret: str = "p2c-sandbox-secret") -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": f"{base}/.default",
    }
    return httpx.post(f"{base}/contoso.onmicrosoft.com/oauth2/v2.0/token", data=form)


def start(tmp: Path, *extra: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = p2c_command("sandbox", "crm", "--port", str(port), "--data-dir", str(tmp / "crm"), *extra)
    process = ManagedProcess("crm", argv, ready=http_ok(base + API + "$metadata"), log_path=tmp / f"crm-{port}.log")
    process.start(timeout=30)
    return process, base


def client(base: str, client_id: str = "p2c", secret: str = "p2c-sandbox-secret") -> httpx.Client:
    access = token(base, client_id, secret).json()["access_token"]
    headers = {"Authorization": f"Bearer {access}", "OData-Version": "4.0", "Accept": "application/json"}
    return httpx.Client(base_url=base + API, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("sandbox-crm")
    subprocess.run(
        p2c_command(
            "sandbox",
            "seed",
            "--data-dir",
            str(tmp),
            "--accounts",
            "40",
            "--contacts",
            "30",
            "--products",
            "20",
            "--quotes",
            "10",
        ),
        check=True,
        capture_output=True,
    )
    process, base = start(tmp, "--client", "p2c:p2c-sandbox-secret", "--client", "other:other-secret")
    yield base, tmp
    process.stop()


@pytest.fixture
def api(crm: tuple[str, Path]) -> Iterator[httpx.Client]:
    with client(crm[0]) as c:
        yield c


def test_token_and_bearer_auth(crm: tuple[str, Path]) -> None:
    base, _ = crm
    ok = token(base)
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "Bearer" and ok.json()["expires_in"] == 3599
    assert token(base, secret="wrong").status_code == 401
    assert httpx.get(base + API + "accounts").status_code == 401
    bad = httpx.get(base + API + "accounts", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and "Bearer" in bad.headers["WWW-Authenticate"]


def test_whoami_and_created_by_the_integration_user(api: httpx.Client) -> None:
    assert api.get("WhoAmI").json()["UserId"] == INTEGRATION_USER
    r = api.post("accounts", json={"name": "Who Wrote Me"}, headers={"Prefer": "return=representation"})
    assert r.status_code == 201
    row = r.json()
    assert row["_createdby_value"] == INTEGRATION_USER and row["_modifiedby_value"] == INTEGRATION_USER
    assert row["accountnumber"].startswith("ACC-") and len(row["accountnumber"].split("-")[2]) == 6
    assert r.headers["OData-EntityId"].endswith(f"accounts({row['accountid']})")


def test_seeded_counts(api: httpx.Client) -> None:
    def count(entity_set: str) -> int:
        params = {"$count": "true", "$select": api_key(entity_set), "$top": "1"}
        return int(api.get(entity_set, params=params).json()["@odata.count"])

    assert count("contacts") == 30
    assert api.get("contacts/$count").text == "30"
    assert api.get("quotes/$count", params={"$filter": "statecode eq 1"}).text.isdigit()
    assert count("quotes") == 10
    assert count("products") > 15
    assert count("uoms") >= 5 and count("pricelevels") >= 2 and count("transactioncurrencies") >= 3


def api_key(entity_set: str) -> str:
    return {
        "accounts": "accountid",
        "contacts": "contactid",
        "quotes": "quoteid",
        "products": "productid",
        "uoms": "uomid",
        "pricelevels": "pricelevelid",
        "transactioncurrencies": "transactioncurrencyid",
    }[entity_set]


def test_crud_upsert_by_alternate_key_and_etags(api: httpx.Client) -> None:
    created = api.patch(
        "accounts(accountnumber='ACC-UPSERT-1')", json={"name": "Upserted"}, headers={"Prefer": "return=representation"}
    )
    assert created.status_code == 201
    row = created.json()
    etag = row["@odata.etag"]
    assert etag == f'W/"{row["versionnumber"]}"'
    updated = api.patch(
        "accounts(accountnumber='ACC-UPSERT-1')", json={"telephone1": "+1 555 0100"}, headers={"If-Match": etag}
    )
    assert updated.status_code == 204
    stale = api.patch(f"accounts({row['accountid']})", json={"name": "Stale"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "0x80060882"
    assert (
        api.patch("accounts(accountnumber='ACC-NOPE')", json={"name": "x"}, headers={"If-Match": "*"}).status_code
        == 404
    )
    no_update = api.patch(f"accounts({row['accountid']})", json={"name": "x"}, headers={"If-None-Match": "*"})
    assert no_update.status_code == 412
    got = api.get(f"accounts({row['accountid']})", params={"$select": "name,telephone1"}).json()
    assert got["name"] == "Upserted" and got["telephone1"] == "+1 555 0100"
    assert api.delete(f"accounts({row['accountid']})").status_code == 204
    assert api.get(f"accounts({row['accountid']})").status_code == 404


def test_lookups_binds_and_annotations(api: httpx.Client) -> None:
    account = api.post("accounts", json={"name": "Parent Co"}, headers={"Prefer": "return=representation"}).json()
    r = api.post(
        "contacts",
        json={"lastname": "Child", "parentcustomerid_account@odata.bind": f"/accounts({account['accountid']})"},
        headers={"Prefer": "return=representation"},
    )
    assert r.status_code == 201
    contact = r.json()
    assert contact["_parentcustomerid_value"] == account["accountid"]
    assert contact["msdynce_iscompanyanaccount"] is True
    assert contact["msdynce_contactnumber"].startswith("CON-")
    annotated = api.get(
        f"contacts({contact['contactid']})",
        params={"$select": "_parentcustomerid_value"},
        headers={"Prefer": 'odata.include-annotations="*"'},
    ).json()
    assert annotated["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    plain = api.get(f"contacts({contact['contactid']})", params={"$select": "_parentcustomerid_value"}).json()
    assert not any("@Microsoft" in k for k in plain)
    product = api.post("products", json={"productnumber": "P-BIND-1", "name": "Bindable"})
    assert product.status_code == 204
    by_key = api.post(
        "productpricelevels", json={"amount": 10, "productid@odata.bind": "/products(productnumber='P-BIND-1')"}
    )
    assert by_key.status_code == 204
    missing = api.post(
        "contacts",
        json={
            "lastname": "X",
            "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)",
        },
    )
    assert missing.status_code == 400 and "parentcustomerid" in missing.json()["error"]["message"]
    wrong_type = api.post("accounts", json={"name": "X", "numberofemployees": "many"})
    assert wrong_type.status_code == 400 and "numberofemployees" in wrong_type.json()["error"]["message"]
    unknown = api.post("accounts", json={"nmae": "typo"})
    assert unknown.status_code == 400 and "nmae" in unknown.json()["error"]["message"]


def test_filter_select_orderby_top_and_skip_rejected(api: httpx.Client) -> None:
    r = api.get(
        "accounts",
        params={
            "$select": "name,numberofemployees",
            "$filter": "numberofemployees ge 100 and (statecode eq 0 or name eq null)",
            "$orderby": "numberofemployees desc",
            "$top": "5",
        },
    )
    rows = r.json()["value"]
    assert 0 < len(rows) <= 5
    sizes = [x["numberofemployees"] for x in rows]
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 100
    assert set(rows[0]) == {"@odata.etag", "accountid", "name", "numberofemployees"}
    skip = api.get("accounts", params={"$skip": "10"})
    assert skip.status_code == 400 and skip.json()["error"]["code"].startswith("0x")
    bad = api.get("accounts", params={"$filter": "nosuchfield eq 1"})
    assert bad.status_code == 400 and "nosuchfield" in bad.json()["error"]["message"]


def test_paging_with_next_link(api: httpx.Client) -> None:
    seen: list[str] = []
    url: str | None = "accounts?$select=name"
    pages = 0
    while url:
        body = api.get(url, headers={"Prefer": "odata.maxpagesize=7"}).json()
        assert len(body["value"]) <= 7
        seen += [row["accountid"] for row in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    total = api.get("accounts", params={"$count": "true", "$top": "1"}).json()["@odata.count"]
    assert len(seen) == len(set(seen)) == total and pages == -(-total // 7)


def test_change_tracking_full_load_then_delta(api: httpx.Client) -> None:
    prefer = {"Prefer": "odata.track-changes,odata.maxpagesize=15"}
    url: str | None = "contacts?$select=lastname,_parentcustomerid_value"
    loaded, delta_link = 0, None
    while url:
        r = api.get(url, headers=prefer)
        assert r.status_code == 200 and "odata.track-changes" in r.headers["Preference-Applied"]
        loaded += len(r.json()["value"])
        url = r.json().get("@odata.nextLink")
        delta_link = r.json().get("@odata.deltaLink", delta_link)
    assert loaded >= 30 and delta_link and "$deltatoken=" in delta_link
    assert api.get(delta_link).json()["value"] == []

    new = api.post("contacts", json={"lastname": "Newcomer"}, headers={"Prefer": "return=representation"}).json()
    victim = api.get(
        "contacts", params={"$select": "contactid", "$filter": "lastname ne 'Newcomer'", "$top": "2"}
    ).json()
    changed_id, deleted_id = (row["contactid"] for row in victim["value"])
    api.patch(f"contacts({changed_id})", json={"lastname": "Changed"})
    api.patch(f"contacts({changed_id})", json={"lastname": "Changed twice"})
    api.delete(f"contacts({deleted_id})")

    delta = api.get(delta_link).json()
    rows = [v for v in delta["value"] if "reason" not in v]
    deleted = [v for v in delta["value"] if v.get("reason") == "deleted"]
    assert {r["contactid"] for r in rows} == {new["contactid"], changed_id}
    assert next(r for r in rows if r["contactid"] == changed_id)["lastname"] == "Changed twice"
    assert [d["id"] for d in deleted] == [deleted_id]
    assert deleted[0]["@odata.context"].endswith("$metadata#contacts/$deletedEntity")
    assert delta["value"].index(deleted[0]) == len(delta["value"]) - 1  # deletes come last
    assert api.get(delta["@odata.deltaLink"]).json()["value"] == []
    bad = api.get("contacts", params={"$filter": "lastname eq 'x'"}, headers={"Prefer": "odata.track-changes"})
    assert bad.status_code == 400


def test_expired_delta_token(crm: tuple[str, Path]) -> None:
    _, tmp = crm
    process, base = start(tmp / "short", "--delta-token-ttl", "1")
    try:
        with client(base) as c:
            link = c.get("accounts?$select=name", headers={"Prefer": "odata.track-changes"}).json()["@odata.deltaLink"]
            time.sleep(2.1)
            r = c.get(link)
            assert r.status_code == 400
            assert r.json()["error"] == {
                "code": "0x80044352",
                "message": "Version stamp associated with the client has expired. Please perform a full sync.",
            }
            assert c.get("accounts?$select=name&$deltatoken=garbage").json()["error"]["code"] == "0x80044352"
    finally:
        process.stop()


def batch_body(boundary: str, changeset: str, requests: list[str]) -> str:
    parts = []
    for i, req in enumerate(requests, 1):
        parts.append(
            f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {i}\r\n\r\n{req}\r\n"
        )
    inner = "".join(parts) + f"--{changeset}--\r\n"
    return f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n{inner}--{boundary}--\r\n"


def test_batch_change_set_is_atomic(api: httpx.Client) -> None:
    good = [
        f'POST {API}accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{"name": "Batch {i}"}}'
        for i in range(3)
    ]
    bad = 'POST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"numberofemployees": "lots"}'
    r = api.post(
        "$batch",
        content=batch_body("batch_1", "changeset_1", [*good, bad]),
        headers={"Content-Type": "multipart/mixed; boundary=batch_1"},
    )
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("multipart/mixed")
    assert "HTTP/1.1 400" in r.text
    names = api.get("accounts", params={"$filter": "startswith(name, 'Batch ')"}).json()["value"]
    assert names == []  # rolled back
    r = api.post(
        "$batch",
        content=batch_body("batch_2", "changeset_2", good),
        headers={"Content-Type": "multipart/mixed; boundary=batch_2"},
    )
    assert r.text.count("HTTP/1.1 204") == 3
    assert len(api.get("accounts", params={"$filter": "startswith(name, 'Batch ')"}).json()["value"]) == 3


def test_batch_of_1000_patches_is_fast(api: httpx.Client) -> None:
    reqs = [
        f"PATCH accounts(accountnumber='ACC-BULK-{i}') HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        f'{{"name": "Bulk {i}"}}'
        for i in range(1000)
    ]
    started = time.perf_counter()
    r = api.post("$batch", content=batch_body("b", "c", reqs), headers={"Content-Type": "multipart/mixed; boundary=b"})
    elapsed = time.perf_counter() - started
    assert r.text.count("HTTP/1.1 204") == 1000
    assert elapsed < 3.0  # typically ~0.3 s
    too_many = batch_body("b", "c", [*reqs, reqs[0]])
    assert (
        api.post("$batch", content=too_many, headers={"Content-Type": "multipart/mixed; boundary=b"}).status_code == 400
    )


def test_quote_lines_and_cascading_delete(api: httpx.Client) -> None:
    account = api.post("accounts", json={"name": "Quote Customer"}, headers={"Prefer": "return=representation"}).json()
    product = api.get("products", params={"$filter": "msdynce_ismaintainedexternally eq true", "$top": "1"}).json()[
        "value"
    ][0]
    quote = api.post(
        "quotes",
        json={"name": "Q", "customerid_account@odata.bind": f"/accounts({account['accountid']})"},
        headers={"Prefer": "return=representation"},
    ).json()
    assert quote["quotenumber"].startswith("QUO-")
    for qty in (2, 3):
        r = api.post(
            "quotedetails",
            json={
                "quoteid@odata.bind": f"/quotes({quote['quoteid']})",
                "quantity": qty,
                "priceperunit": 10,
                "productid@odata.bind": f"/products({product['productid']})",
            },
        )
        assert r.status_code == 204
    lines = api.get(
        "quotedetails", params={"$filter": f"_quoteid_value eq {quote['quoteid']}", "$orderby": "sequencenumber"}
    ).json()["value"]
    assert [line["sequencenumber"] for line in lines] == [1, 2]
    after = api.get(f"quotes({quote['quoteid']})").json()
    assert after["totalamount"] == 50.0 and after["msdynce_hasexternallymaintainedproductsonly"] is True
    link = api.get("quotedetails?$select=quantity", headers={"Prefer": "odata.track-changes"}).json()[
        "@odata.deltaLink"
    ]
    assert api.delete(f"quotes({quote['quoteid']})").status_code == 204
    gone = [v["id"] for v in api.get(link).json()["value"] if v.get("reason") == "deleted"]
    assert sorted(gone) == sorted(line["quotedetailid"] for line in lines)


def test_rate_limit_429_with_retry_after(crm: tuple[str, Path]) -> None:
    _, tmp = crm
    process, base = start(tmp / "limited", "--rate-limit", "5")
    try:
        with client(base) as c:
            statuses = [c.get("uoms", params={"$top": "1"}) for _ in range(8)]
            throttled = [r for r in statuses if r.status_code == 429]
            assert throttled, [r.status_code for r in statuses]
            assert int(throttled[0].headers["Retry-After"]) >= 1
            assert throttled[0].json()["error"]["code"] == "0x80072322"
            time.sleep(1.1)
            assert c.get("uoms", params={"$top": "1"}).status_code == 200
    finally:
        process.stop()


def test_full_load_of_5000_accounts_is_fast(crm: tuple[str, Path]) -> None:
    _, tmp = crm
    subprocess.run(
        p2c_command(
            "sandbox",
            "seed",
            "--data-dir",
            str(tmp / "big"),
            "--accounts",
            "5000",
            "--contacts",
            "0",
            "--products",
            "0",
            "--quotes",
            "0",
        ),
        check=True,
        capture_output=True,
    )
    process, base = start(tmp / "big")
    try:
        with client(base) as c:
            c.get("accounts?$top=1")
            # the columns the CRM source selects (a table has ~70 columns from the real metadata; p2c never asks
            # for all of them)
            select = ",".join(STREAMS["accounts"].select)
            started = time.perf_counter()
            r = c.get(f"accounts?$select={select}", headers={"Prefer": "odata.track-changes,odata.maxpagesize=5000"})
            elapsed = time.perf_counter() - started
            assert len(r.json()["value"]) == 5000 and "@odata.deltaLink" in r.json()
            assert elapsed < 2.0  # typically ~0.3 s
    finally:
        process.stop()
