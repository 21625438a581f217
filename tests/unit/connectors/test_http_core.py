"""Error table, Retry-After, retry loop, authenticator, paginator and the OData client."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from p2c.connectors.core.auth import ClientCredentials
from p2c.connectors.core.errors import ERROR_TABLE, Action, error_for, parse_retry_after, rule_for
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.retry import RetryPolicy, call_with_retry
from p2c.errors import ConfigurationError, RecordError, RetriableError

from .fakes import FAST, client_for

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (429, Action.RETRY),
        (500, Action.RETRY),
        (503, Action.RETRY),
        (599, Action.RETRY),
        (400, Action.FAIL_RECORD),
        (404, Action.FAIL_RECORD),
        (409, Action.FAIL_RECORD),
        (412, Action.FAIL_RECORD),
        (422, Action.FAIL_RECORD),
        (418, Action.FAIL_RECORD),
        (401, Action.CONFIG),
        (403, Action.CONFIG),
        (200, Action.OK),
        (204, Action.OK),
    ],
)
def test_error_table_maps_status_to_action(status: int, action: Action) -> None:
    assert rule_for(status).action is action


def test_error_table_is_data() -> None:
    assert ERROR_TABLE[429].action is Action.RETRY
    assert {s for s, r in ERROR_TABLE.items() if r.action is Action.CONFIG} == {401, 403}


def test_error_for_builds_the_right_exception() -> None:
    err = error_for(429, b"", {"Retry-After": "7"})
    assert isinstance(err, RetriableError) and err.retry_after == 7.0
    err = error_for(400, b'{"error": {"message": "CustomerGroupId 99 does not exist"}}', record_key="ACC-1")
    assert isinstance(err, RecordError)
    assert err.record_key == "ACC-1" and "CustomerGroupId 99 does not exist" in str(err)
    err = error_for(403, b"denied", what="GET accounts")
    assert isinstance(err, ConfigurationError) and "security role" in str(err)
    assert error_for(201) is None


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_never_goes_before_retry_after_and_logs_one_line(caplog: pytest.LogCaptureFixture) -> None:
    waits: list[float] = []
    outcomes: list[Exception | str] = [RetriableError("throttled", 5.0), RetriableError("throttled", 500.0), "done"]

    def fn() -> str:
        out = outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        return out

    policy = RetryPolicy(max_attempts=5)
    with caplog.at_level(logging.INFO, "p2c.connectors.retry"):
        assert call_with_retry(fn, "PATCH x", policy, sleep=waits.append) == "done"
    assert waits == [5.0, 500.0]  # a long Retry-After too: Dataverse extends the wait of a client that pushes
    assert len(caplog.records) == 2 and "retry 1/5 of PATCH x in 5.00 s" in caplog.records[0].getMessage()


def test_retry_backs_off_exponentially_then_gives_up() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0, jitter=lambda d: d)

    def fn() -> None:
        raise RetriableError("503")

    with pytest.raises(RetriableError):
        call_with_retry(fn, "x", policy, sleep=waits.append)
    assert waits == [1.0, 2.0, 3.0]


def test_retry_does_not_retry_record_errors() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise RecordError("bad")

    with pytest.raises(RecordError):
        call_with_retry(fn, "x", FAST, sleep=lambda _: None)
    assert calls == [1]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _auth_server(expires_in: int = 3600, api_401_first: bool = False) -> tuple[list[str], httpx.MockTransport]:
    seen: list[str] = []
    tokens = iter(f"tok{i}" for i in range(100))
    state = {"first": api_401_first}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            form = dict(httpx.QueryParams(request.content.decode()))
            if form.get("client_secret") != "s3cret":
                return httpx.Response(401, json={"error": "invalid_client", "error_description": "bad secret"})
            assert form["grant_type"] == "client_credentials" and form["scope"] == "https://crm/.default"
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": expires_in})
        seen.append(request.headers["Authorization"])
        if state["first"]:
            state["first"] = False
            return httpx.Response(401)
        return httpx.Response(200, json={})

    return seen, httpx.MockTransport(handler)


def test_token_is_cached_until_shortly_before_expiry() -> None:
    clock = Clock()
    seen, transport = _auth_server(expires_in=600)
    auth = ClientCredentials(
        "http://login/t/oauth2/v2.0/token",
        "p2c",
        SecretStr("s3cret"),
        "https://crm/.default",
        refresh_margin=60,
        clock=clock,
    )
    with httpx.Client(transport=transport, auth=auth) as http:
        http.get("http://crm/a")
        clock.t = 500
        http.get("http://crm/b")
        clock.t = 541
        http.get("http://crm/c")
    assert seen == ["Bearer tok0", "Bearer tok0", "Bearer tok1"]
    assert auth.fetches == 2


def test_token_refreshed_once_on_401() -> None:
    seen, transport = _auth_server(api_401_first=True)
    auth = ClientCredentials("http://login/t/oauth2/v2.0/token", "p2c", SecretStr("s3cret"), "https://crm/.default")
    with httpx.Client(transport=transport, auth=auth) as http:
        assert http.get("http://crm/a").status_code == 200
    assert seen == ["Bearer tok0", "Bearer tok1"]


def test_bad_client_secret_is_a_configuration_error() -> None:
    _, transport = _auth_server()
    auth = ClientCredentials("http://login/t/oauth2/v2.0/token", "p2c", SecretStr("wrong"), "https://crm/.default")
    with httpx.Client(transport=transport, auth=auth) as http, pytest.raises(ConfigurationError, match="client id"):
        http.get("http://crm/a")


def test_client_retries_429_then_succeeds_and_maps_404() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/missing"):
            return httpx.Response(404, json={"error": {"message": "no such row"}})
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "0"})
        if calls["n"] == 2:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"ok": True})

    client = client_for(handler, "http://crm/api/")
    assert client.get_json("things") == {"ok": True}
    assert calls["n"] == 3
    with pytest.raises(RecordError, match="no such row"):
        client.get_json("missing")


def test_client_sends_odata_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = ODataClient("http://crm/api/data/v9.2", transport=httpx.MockTransport(handler))
    client.get_json("accounts")
    assert str(seen[0].url) == "http://crm/api/data/v9.2/accounts"
    assert seen[0].headers["OData-Version"] == "4.0" and seen[0].headers["Accept"] == "application/json"


def test_paginator_follows_next_links_and_keeps_the_delta_link() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Prefer"] == "odata.maxpagesize=2"
        page = int(request.url.params.get("$skiptoken", "0"))
        doc: dict[str, object] = {"value": [{"id": page * 2}, {"id": page * 2 + 1}]}
        if page < 2:
            doc["@odata.nextLink"] = f"http://crm/api/accounts?$skiptoken={page + 1}"
        else:
            doc["@odata.deltaLink"] = "http://crm/api/accounts?$deltatoken=9"
        return httpx.Response(200, json=doc)

    client = client_for(handler, "http://crm/api/")
    pages = list(NextLinkPaginator(client, {"Prefer": "odata.maxpagesize=2"}).pages("accounts", {"$select": "id"}))
    assert [r["id"] for p in pages for r in p.rows] == [0, 1, 2, 3, 4, 5]
    assert pages[-1].delta_link == "http://crm/api/accounts?$deltatoken=9"
    assert [p.next_link is None for p in pages] == [False, False, True]
