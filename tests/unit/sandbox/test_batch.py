"""$batch: multipart parsing and writing, and change sets executed atomically (no HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.sandbox.crm.app import open_store
from p2c.sandbox.crm.service import CrmService
from p2c.sandbox.odata.batch import ChangeSet, Part, PartResponse, parse_batch, write_batch
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.service import Request

BODY = (
    "--batch_AAA\r\n"
    "Content-Type: multipart/mixed; boundary=changeset_BBB\r\n\r\n"
    "--changeset_BBB\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
    "POST https://org.crm.dynamics.com/api/data/v9.2/accounts HTTP/1.1\r\n"
    "Content-Type: application/json; type=entry\r\n\r\n"
    '{"name": "Batch A"}\r\n'
    "--changeset_BBB\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
    "POST contacts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
    '{"lastname": "Linked", "parentcustomerid_account@odata.bind": "$1"}\r\n'
    "--changeset_BBB--\r\n"
    "--batch_AAA\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "GET accounts?$select=name&$filter=name%20eq%20'Batch%20A' HTTP/1.1\r\nAccept: application/json\r\n\r\n"
    "--batch_AAA--\r\n"
)


def test_parse_change_set_and_get() -> None:
    items = parse_batch(BODY.encode(), "multipart/mixed; boundary=batch_AAA")
    assert isinstance(items[0], ChangeSet) and isinstance(items[1], Part)
    first, second = items[0].parts
    assert (first.method, first.content_id, json.loads(first.body)) == ("POST", "1", {"name": "Batch A"})
    assert first.headers["content-type"].startswith("application/json")
    assert second.url == "contacts"
    assert items[1].method == "GET" and items[1].body == b""


def test_parse_accepts_bare_newlines() -> None:
    body = BODY.replace("\r\n", "\n").encode()
    items = parse_batch(body, 'multipart/mixed; boundary="batch_AAA"')
    assert len(items) == 2 and json.loads(items[0].parts[0].body) == {"name": "Batch A"}  # type: ignore[union-attr]


def test_parse_rejects_get_in_change_set_and_bad_content_type() -> None:
    bad = BODY.replace("POST contacts", "GET contacts")
    with pytest.raises(ODataError, match="GET"):
        parse_batch(bad.encode(), "multipart/mixed; boundary=batch_AAA")
    with pytest.raises(ODataError):
        parse_batch(BODY.encode(), "application/json")


def test_write_round_trips_status_headers_and_body() -> None:
    created = PartResponse(204, {"OData-EntityId": "x/accounts(1)"}, b"", "1")
    failed = PartResponse(400, {"Content-Type": "application/json"}, b'{"error":{}}')
    body, ctype = write_batch([[created], failed], boundary="batchresponse_1")
    text = body.decode()
    assert ctype == "multipart/mixed; boundary=batchresponse_1"
    assert "Content-Type: multipart/mixed; boundary=changesetresponse_" in text
    assert "Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nOData-EntityId: x/accounts(1)" in text
    assert "HTTP/1.1 400 Bad Request" in text and text.endswith("--batchresponse_1--\r\n")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CrmService]:
    store = open_store(tmp_path)
    yield CrmService(store, 3600)
    store.close()


def run(service: CrmService, body: str, boundary: str = "batch_AAA") -> str:
    req = Request(
        "POST",
        "$batch",
        {},
        {"content-type": f"multipart/mixed; boundary={boundary}"},
        body.encode(),
        "p2c",
        "http://h/api/data/v9.2/",
    )
    resp = service.handle(req)
    assert resp.status == 200
    return resp.body.decode()


def test_content_id_reference_and_get(service: CrmService) -> None:
    text = run(service, BODY)
    assert text.count("HTTP/1.1 204") == 2 and "HTTP/1.1 200 OK" in text and '"name":"Batch A"' in text
    contact = service.db.conn.execute(
        'SELECT "_parentcustomerid_value", "parentcustomerid__type" FROM contacts'
    ).fetchone()
    account = service.db.conn.execute("SELECT accountid FROM accounts WHERE name = 'Batch A'").fetchone()
    assert contact == (account[0], "account")


def test_failed_change_set_rolls_back_everything(service: CrmService) -> None:
    failing = BODY.replace('"lastname": "Linked"', '"lastname": 42')
    text = run(service, failing)
    assert "HTTP/1.1 400" in text and "lastname" in text
    assert "HTTP/1.1 200" not in text  # the batch stops at the failure by default
    assert service.db.conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0
    assert service.db.conn.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == 0


def test_prefer_header_with_quoted_lists() -> None:
    names = "OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"
    header = f'odata.track-changes, odata.include-annotations="{names}",odata.maxpagesize=50'
    req = Request("GET", "accounts", headers={"prefer": header})
    assert req.prefer() == {"odata.track-changes": "", "odata.include-annotations": names, "odata.maxpagesize": "50"}
