"""$batch: multipart build and parse, per change set outcomes, bisecting, chunking."""

from __future__ import annotations

import httpx
import pytest

from p2c.connectors.core.batch import BatchWriter, ChangeSet, Operation, build_batch, parse_batch
from p2c.errors import RecordError, RetriableError

from .fakes import FakeFinOps, client_for

pytestmark = pytest.mark.timeout(10)


def _cs(account: str, **fields: object) -> ChangeSet:
    body = {"dataAreaId": "usmf", "CustomerAccount": account, **fields}
    return ChangeSet(account, [Operation("POST", "CustomersV3", body)])


def test_build_then_parse_roundtrip_through_a_fake_service() -> None:
    erp = FakeFinOps(reject=lambda body: "name required" if body.get("OrganizationName") is None else None)
    writer = BatchWriter(erp.client())
    results = writer.send([_cs("A", OrganizationName="a"), _cs("B"), _cs("C", OrganizationName="c")])
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, RecordError) and "name required" in str(results[1].error)
    assert results[1].error.record_key == "B"
    assert results[0].responses[0].status == 201 and results[0].responses[0].json()["CustomerAccount"] == "A"
    assert set(erp.rows) == {("usmf", "a"), ("usmf", "c")}


def test_request_body_shape() -> None:
    client = client_for(lambda r: httpx.Response(200), "http://erp/data/")
    boundary, body = build_batch(
        client, [ChangeSet("k", [Operation("PATCH", "CustomersV3(dataAreaId='usmf',CustomerAccount='A')", {"x": 1})])]
    )
    text = body.decode()
    assert text.startswith(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary=changeset_")
    assert "PATCH http://erp/data/CustomersV3(dataAreaId='usmf',CustomerAccount='A') HTTP/1.1\r\n" in text
    assert "Content-ID: 1\r\n" in text and text.endswith(f"--{boundary}--\r\n")
    assert '\r\n\r\n{"x":1}\r\n--changeset_' in text


def test_parse_dataverse_style_response_with_lf_and_missing_parts() -> None:
    body = (
        b"--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: application/http\n\n"
        b"HTTP/1.1 204 No Content\nOData-Version: 4.0\n\n\n--c--\n"
        b"--b\nContent-Type: application/http\n\nHTTP/1.1 429 Too Many\nRetry-After: 4\n\n{}\n--b--\n"
    )
    groups = parse_batch(body, "multipart/mixed; boundary=b")
    assert [[r.status for r in g] for g in groups] == [[204], [429]]
    assert groups[1][0].headers["retry-after"] == "4"


def test_a_retriable_part_and_an_unanswered_change_set_are_retriable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 503 Busy\r\nRetry-After: 2\r\n\r\n\r\n--b--"
        return httpx.Response(200, content=body, headers={"Content-Type": "multipart/mixed; boundary=b"})

    results = BatchWriter(client_for(handler, "http://erp/data/")).send([_cs("A"), _cs("B")])
    assert isinstance(results[0].error, RetriableError) and results[0].error.retry_after == 2.0
    assert isinstance(results[1].error, RetriableError)


def test_whole_batch_rejected_is_bisected_until_the_bad_record_stands_alone() -> None:
    erp = FakeFinOps()
    inner = erp.handle
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("$batch"):
            sizes.append(request.content.count(b"Content-ID"))
            if b"POISON" in request.content:
                return httpx.Response(400, json={"error": {"message": "malformed part"}})
        return inner(request)

    writer = BatchWriter(client_for(handler, erp.root))
    results = writer.send([_cs(a, OrganizationName=a) for a in ["A", "B", "POISON", "D"]])
    assert [r.ok for r in results] == [True, True, False, True]
    assert "malformed part" in str(results[2].error)
    assert len(erp.rows) == 3
    assert sizes[0] == 4


def test_chunks_respect_max_operations() -> None:
    erp = FakeFinOps()
    writer = BatchWriter(erp.client(), max_operations=1000)
    writer.send([_cs(f"C{i}", OrganizationName="x") for i in range(2500)])
    assert erp.batches == [1000, 1000, 500]
    assert len(erp.rows) == 2500
    with pytest.raises(ValueError):
        BatchWriter(erp.client(), max_operations=1001)
