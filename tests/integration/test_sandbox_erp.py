"""The ERP sandbox as a real process, over real sockets: what a FinOps OData client sees."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from p2c.process import ManagedProcess, free_port, http_ok, p2c_command

API = "/data/"


def start(tmp: Path, *extra: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = p2c_command("sandbox", "erp", "--port", str(port), "--data-dir", str(tmp / "erp"), *extra)
    process = ManagedProcess("erp", argv, ready=http_ok(base + API + "$metadata"), log_path=tmp / f"erp-{port}.log")
    process.start(timeout=30)
    return process, base


def client(base: str) -> httpx.Client:
    form = {
        "grant_type": "client_credentials",
        "client_id": "p2c",
        "client_secret": "p2c-sandbox-secret",
        "scope": f"{base}/.default",
    }
    access = httpx.post(f"{base}/common/oauth2/v2.0/token", data=form).json()["access_token"]
    return httpx.Client(base_url=base + API, headers={"Authorization": f"Bearer {access}"}, timeout=10)


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("sandbox-erp")
    seed = ["--accounts", "5", "--contacts", "5", "--products", "30", "--quotes", "2"]
    subprocess.run(p2c_command("sandbox", "seed", "--data-dir", str(tmp), *seed), check=True, capture_output=True)
    process, base = start(tmp)
    yield base, tmp
    process.stop()


@pytest.fixture
def api(erp: tuple[str, Path]) -> Iterator[httpx.Client]:
    with client(erp[0]) as c:
        yield c


def customer(account: str, **extra: object) -> dict[str, object]:
    return {
        "dataAreaId": "usmf",
        "CustomerAccount": account,
        "PartyType": "Organization",
        "OrganizationName": f"Org {account}",
        "CustomerGroupId": "10",
        "SalesCurrencyCode": "USD",
        "LanguageId": "en-us",
        "DeliveryAddressCountryRegionISOCode": "US",
        **extra,
    }


def test_auth_required(erp: tuple[str, Path]) -> None:
    assert httpx.get(erp[0] + API + "CustomersV3").status_code == 401


def test_seeded_products_and_reference_data(api: httpx.Client) -> None:
    body = api.get("CDSReleasedDistinctProducts", params={"$count": "true", "$top": "2"}).json()
    assert body["@odata.count"] == 30 and len(body["value"]) == 2
    product = body["value"][0]
    assert product["dataAreaId"] == "usmf" and product["CurrencyCode"] == "USD"
    assert "ModifiedDateTime" not in product and "IsSellable" not in product  # the real entity has neither
    stopped_filter = "IsSalesProcessingStopped eq Microsoft.Dynamics.DataEntities.NoYes'Yes'"
    stopped = api.get("ProductDefaultOrderSettings", params={"$filter": stopped_filter, "$count": "true"})
    assert 0 < stopped.json()["@odata.count"] < 30
    plain = api.get("ProductDefaultOrderSettings", params={"$filter": "IsSalesProcessingStopped eq 'Yes'"})
    assert plain.status_code == 400 and "IsSalesProcessingStopped" in plain.json()["error"]["message"]
    assert api.get("CDSReleasedDistinctProducts/$count").text == "30"
    groups = {g["CustomerGroupId"] for g in api.get("CustomerGroups").json()["value"]}
    assert {"10", "20", "30"} <= groups
    assert api.get("UnitsOfMeasure('ea')").json()["UnitSymbol"] == "ea"
    assert "usmf" in {e["LegalEntityId"] for e in api.get("LegalEntities").json()["value"]}
    assert api.get("Ledgers('usmf')").json()["AccountingCurrency"] == "USD"
    assert api.get("AddressCountryRegions('USA')").json()["ISOcode"] == "US"
    assert "en-us" in {c["LanguageCodeId"] for c in api.get("LanguageCodes").json()["value"]}
    metadata = api.get("$metadata").content
    assert b'<Property Name="AddressPostbox" Type="Edm.String"/>' in metadata
    assert b'<EnumType Name="NoYes">' in metadata and b"CDSContactsV2" not in metadata
    for absent in ("CDSContactsV2", "Languages"):
        assert api.get(absent).status_code == 404


def test_customer_crud_keys_and_etags(api: httpx.Client) -> None:
    refused = api.post("CustomersV3", json=customer("ACC-E1", P2CSourceVersion=7))
    assert refused.status_code == 400
    assert "'P2CSourceVersion' does not exist on type" in refused.json()["error"]["message"]
    r = api.post("CustomersV3", json=customer("ACC-E1"))
    assert r.status_code == 201
    created = r.json()
    assert created["IsExternallyMaintained"] == "No" and created["CredManCustomerSince"].startswith("1900-01-01")
    again = api.post("CustomersV3", json=customer("ACC-E1"))
    assert again.status_code == 400 and "already exists" in again.json()["error"]["message"]
    key = "CustomersV3(dataAreaId='usmf',CustomerAccount='ACC-E1')"
    r = api.patch(key, json={"OrganizationName": "Renamed"})
    assert r.status_code == 204
    row = api.get(key).json()
    assert row["OrganizationName"] == "Renamed" and row["@odata.etag"] != created["@odata.etag"]
    stale = api.patch(key, json={"SalesMemo": "x"}, headers={"If-Match": created["@odata.etag"]})
    assert stale.status_code == 412
    missing = api.patch("CustomersV3(dataAreaId='usmf',CustomerAccount='NOPE')", json={"OrganizationName": "x"})
    assert missing.status_code == 404  # FinOps PATCH does not create
    assert api.delete(key).status_code == 204
    assert api.get(key).status_code == 404


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"$select": "CustomerAccount,ModifiedDateTime"}, "ModifiedDateTime"),
        ({"$filter": "ModifiedDateTime gt 2024-01-01T00:00:00Z"}, "ModifiedDateTime"),
        ({"$orderby": "RecVersion"}, "RecVersion"),
        ({"$filter": "CredManCustomerSince gt 2024-01-01"}, "CredManCustomerSince"),
    ],
)
def test_a_property_the_entity_lacks_or_a_wrong_literal_is_refused_by_name(
    api: httpx.Client, params: dict[str, str], name: str
) -> None:
    r = api.get("CustomersV3", params=params)
    assert r.status_code == 400 and name in r.json()["error"]["message"]


def test_a_bare_date_is_refused_where_a_date_time_is_declared(api: httpx.Client) -> None:
    api.post("CustomersV3", json=customer("ACC-D1"))
    header = {"SalesQuotationNumber": "QUO-D1", "RequestingCustomerAccountNumber": "ACC-D1"}
    bare = api.post("CDSSalesQuotationHeaders", json={**header, "RequestedShippingDate": "2020-01-01"})
    assert bare.status_code == 400 and "RequestedShippingDate" in bare.json()["error"]["message"]
    ok = api.post("CDSSalesQuotationHeaders", json={**header, "RequestedShippingDate": "2020-01-01T00:00:00Z"})
    assert ok.status_code == 201 and ok.json()["RequestedShippingDate"].startswith("2020-01-01T00:00:00")


def test_a_contact_person_is_numbered_by_finops_and_addressed_by_its_real_key(api: httpx.Client) -> None:
    api.post("CustomersV3", json=customer("ACC-CP1"))
    body = {"AssociatedContactType": "Customer", "AssociatedContactNumber": "ACC-CP1", "LastName": "Doe"}
    created = api.post("CDSContactPersonsV2", json={**body, "ContactPersonId": "CON-CP1"})
    assert created.status_code == 201
    party = created.json()["ContactPersonPartyNumber"]
    enum = "Microsoft.Dynamics.DataEntities.SmmContactPersonCdsAssociatedContactType"
    key = (
        f"CDSContactPersonsV2(dataAreaId='usmf',ContactPersonPartyNumber='{party}',"
        f"AssociatedContactType={enum}'Customer',AssociatedContactNumber='ACC-CP1')"
    )
    assert created.headers["Location"].endswith(key.replace("'", "'"))
    assert api.get(key).json()["ContactPersonId"] == "CON-CP1"
    plain = key.replace(f"{enum}'Customer'", "'Customer'")
    assert api.get(plain).status_code == 400
    assert api.patch(key, json={"FirstName": "Jane"}).status_code == 204
    assert api.delete(key).status_code == 204


def test_validation_errors_name_field_and_value(api: httpx.Client) -> None:
    cases = {
        "CustomerGroupId": ("99", "Customer group '99' does not exist"),
        "SalesCurrencyCode": ("XYZ", "Currency 'XYZ' does not exist"),
        "DeliveryAddressCountryRegionISOCode": ("ZZ", "'ZZ' does not exist"),
        "LanguageId": ("xx-yy", "Language 'xx-yy' does not exist"),
    }
    for i, (field, (value, text)) in enumerate(cases.items()):
        r = api.post("CustomersV3", json=customer(f"ACC-V{i}", **{field: value}))
        assert r.status_code == 400, field
        message = r.json()["error"]["message"]
        assert message.startswith("Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Error:")
        assert text in message and field in message
    person = api.post("CustomersV3", json=customer("ACC-V9", PartyType="Person", OrganizationName=None))
    assert "PersonLastName" in person.json()["error"]["message"]
    no_group = api.post("CustomersV3", json=customer("ACC-V8", CustomerGroupId=None))
    assert "Field 'CustomerGroupId' must be filled in." in no_group.json()["error"]["message"]
    wrong_type = api.post("CustomersV3", json=customer("ACC-V7", CreditLimit="lots"))
    assert wrong_type.status_code == 400 and "CreditLimit" in wrong_type.json()["error"]["message"]


def batch(changeset: list[str]) -> tuple[str, dict[str, str]]:
    parts = "".join(
        f"--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {i}\r\n\r\n"
        f"{req}\r\n"
        for i, req in enumerate(changeset, 1)
    )
    body = f"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n{parts}--cs--\r\n--b--\r\n"
    return body, {"Content-Type": "multipart/mixed; boundary=b"}


def post(path: str, body: str) -> str:
    return f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{body}"


def test_quotation_in_one_change_set_and_rollback(api: httpx.Client) -> None:
    api.post("CustomersV3", json=customer("ACC-Q1"))
    products = api.get("CDSReleasedDistinctProducts", params={"$top": "2", "$select": "ProductNumber"}).json()["value"]
    header = '{"dataAreaId":"usmf","SalesQuotationNumber":"QUO-1","RequestingCustomerAccountNumber":"ACC-Q1"}'
    line = '{{"dataAreaId":"usmf","SalesQuotationNumber":"QUO-1","LineCreationSequenceNumber":{n},"ProductNumber":"{p}","SalesUnitSymbol":"ea","RequestedSalesQuantity":2}}'  # noqa: E501
    good = [post("CDSSalesQuotationHeaders", header)] + [
        post("CDSSalesQuotationLines", line.format(n=n, p=p["ProductNumber"])) for n, p in enumerate(products, 1)
    ]
    bad_line = post("CDSSalesQuotationLines", line.format(n=9, p="NOT-RELEASED"))
    body, headers = batch([*good, bad_line])
    r = api.post("$batch", content=body, headers=headers)
    assert r.status_code == 200 and "HTTP/1.1 400" in r.text and "NOT-RELEASED" in r.text
    assert api.get("CDSSalesQuotationHeaders(dataAreaId='usmf',SalesQuotationNumber='QUO-1')").status_code == 404
    body, headers = batch(good)
    r = api.post("$batch", content=body, headers=headers)
    assert r.text.count("HTTP/1.1 201") == 3
    lines = api.get("CDSSalesQuotationLines", params={"$filter": "SalesQuotationNumber eq 'QUO-1'"}).json()["value"]
    assert [x["LineCreationSequenceNumber"] for x in lines] == [1, 2]
    delete = "DELETE CDSSalesQuotationLines(dataAreaId='usmf',SalesQuotationNumber='QUO-1',LineCreationSequenceNumber=2) HTTP/1.1\r\n"  # noqa: E501
    body, headers = batch([delete])
    assert "HTTP/1.1 204" in api.post("$batch", content=body, headers=headers).text
    blocked = api.delete("CustomersV3(dataAreaId='usmf',CustomerAccount='ACC-Q1')")
    assert blocked.status_code == 400 and "OnHoldStatus" in blocked.json()["error"]["message"]
    unknown_customer = api.post(
        "CDSSalesQuotationHeaders", json={"SalesQuotationNumber": "QUO-2", "RequestingCustomerAccountNumber": "NOBODY"}
    )
    assert "RequestingCustomerAccountNumber" in unknown_customer.json()["error"]["message"]


def test_cross_company(api: httpx.Client) -> None:
    assert (
        api.post("CustomersV3", json=customer("ACC-DE1", dataAreaId="demf", SalesCurrencyCode="EUR")).status_code == 201
    )
    default = api.get("CustomersV3", params={"$filter": "CustomerAccount eq 'ACC-DE1'"}).json()["value"]
    assert default == []
    cross = api.get("CustomersV3", params={"$filter": "CustomerAccount eq 'ACC-DE1'", "cross-company": "true"})
    assert [r["dataAreaId"] for r in cross.json()["value"]] == ["demf"]
    assert api.get("CustomersV3(dataAreaId='demf',CustomerAccount='ACC-DE1')").status_code == 200


def test_paging_skip_and_wildcards(api: httpx.Client) -> None:
    seen, url = [], "CDSReleasedDistinctProducts?$select=ProductNumber&$orderby=ProductNumber"
    while url:
        body = api.get(url, headers={"Prefer": "odata.maxpagesize=8"}).json()
        assert len(body["value"]) <= 8
        seen += [r["ProductNumber"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) == 30 and seen == sorted(seen)
    page = api.get("CDSReleasedDistinctProducts", params={"$orderby": "ProductNumber", "$skip": "28"}).json()
    assert [r["ProductNumber"] for r in page["value"]] == seen[28:]
    like = api.get("CDSReleasedDistinctProducts", params={"$filter": "ProductName eq '*Speaker*'"}).json()["value"]
    assert like and all("Speaker" in r["ProductName"] for r in like)


def test_rate_limit(erp: tuple[str, Path]) -> None:
    process, base = start(erp[1] / "limited", "--rate-limit", "3")
    try:
        with client(base) as c:
            codes = [c.get("Currencies").status_code for _ in range(6)]
            assert 429 in codes
            r = c.get("Currencies")
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
            time.sleep(1.1)
            assert c.get("Currencies").status_code == 200
    finally:
        process.stop()


def test_long_filter_over_many_keys(api: httpx.Client) -> None:
    """A sink looks a batch of keys up with one GET (URLs up to 64 KB)."""
    keys = " or ".join(f"(dataAreaId eq 'usmf' and CustomerAccount eq 'ACC-T{i}')" for i in range(400))
    r = api.get("CustomersV3", params={"cross-company": "true", "$filter": keys, "$select": "CustomerAccount"})
    assert r.status_code == 200, r.text[:300]
    assert {row["CustomerAccount"] for row in r.json()["value"]} <= {f"ACC-T{i}" for i in range(400)}


def one_per_changeset(requests: list[str]) -> str:
    """A $batch body with each request in a change set of its own."""
    return (
        "".join(
            f"--b\r\nContent-Type: multipart/mixed; boundary=cs{i}\r\n\r\n--cs{i}\r\n"
            f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n{req}\r\n--cs{i}--\r\n"
            for i, req in enumerate(requests)
        )
        + "--b--\r\n"
    )


def test_business_errors_as_finops_answers_them_and_the_batch_part_limit(erp: tuple[str, Path]) -> None:
    process, base = start(erp[1] / "strict", "--business-errors", "500", "--max-batch-parts", "3")
    try:
        with client(base) as c:
            bad = c.post("CustomersV3", json=customer("ACC-X1", CustomerGroupId="99"))
            assert bad.status_code == 500
            error = bad.json()["error"]
            assert error["message"] == "An error has occurred."
            assert "Customer group '99' does not exist" in error["innererror"]["message"]

            def create(n: int, group: str = "10") -> str:
                fields = {"CustomerAccount": f"ACC-X{n}", "PartyType": "Organization", "OrganizationName": "X"}
                return post("CustomersV3", json.dumps({**fields, "CustomerGroupId": group}))

            headers = {"Content-Type": "multipart/mixed; boundary=b", "Prefer": "odata.continue-on-error"}
            r = c.post("$batch", content=one_per_changeset([create(2), create(3, "99"), create(4)]), headers=headers)
            assert r.text.count("HTTP/1.1 201") == 1 and "HTTP/1.1 500" in r.text  # stopped at the failed one
            assert c.get("CustomersV3(dataAreaId='usmf',CustomerAccount='ACC-X4')").status_code == 404
            four = one_per_changeset([create(n) for n in range(5, 9)])
            too_many = c.post("$batch", content=four, headers=headers)
            assert too_many.status_code == 400 and "limit of 3" in too_many.json()["error"]["message"]
    finally:
        process.stop()
