"""Small clients for the sandbox CRM and ERP, as a user (or a test) would call them: real HTTP, OAuth2
client credentials, the documented URL shapes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

# A person working in the application: the integration (client p2c) ignores its own writes, not theirs.
USER = ("user", "user-sandbox-secret")

T = TypeVar("T")


class ODataClient:
    def __init__(self, root: str, api: str, client: tuple[str, str] = USER) -> None:
        token = httpx.post(
            f"{root}/p2c/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client[0],
                "client_secret": client[1],
                "scope": f"{root}/.default",
            },
            timeout=10,
        )
        token.raise_for_status()
        self.http = httpx.Client(
            base_url=f"{root}{api}",
            headers={
                "Authorization": f"Bearer {token.json()['access_token']}",
                "Accept": "application/json",
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
            },
            timeout=30,
        )

    def __del__(self) -> None:
        if hasattr(self, "http"):  # not when the token request failed
            self.http.close()

    def get_all(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        response = self.http.get(path, params=params)
        while True:
            response.raise_for_status()
            body = response.json()
            rows.extend(body["value"])
            if "@odata.nextLink" not in body:
                return rows
            response = self.http.get(body["@odata.nextLink"])

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.http.post(path, json=body, headers={"Prefer": "return=representation"})
        response.raise_for_status()
        return response

    def patch(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.http.patch(path, json=body)
        response.raise_for_status()
        return response

    def batch(self, method: str, requests: list[tuple[str, dict[str, Any]]]) -> list[int]:
        """One ``$batch`` of independent requests (``(path, body)``); the status of each, in order."""
        boundary = f"batch_{uuid.uuid4().hex}"
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{json.dumps(body)}\r\n"
            for path, body in requests
        ]
        payload = "".join(parts) + f"--{boundary}--\r\n"
        response = self.http.post(
            "$batch", content=payload.encode(), headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
        )
        response.raise_for_status()
        return [int(line.split()[1]) for line in response.text.splitlines() if line.startswith("HTTP/1.1 ")]

    def delete(self, path: str) -> httpx.Response:
        response = self.http.delete(path)
        response.raise_for_status()
        return response


def crm(root: str) -> ODataClient:
    return ODataClient(root, "/api/data/v9.2/")


def erp(root: str) -> ODataClient:
    return ODataClient(root, "/data/")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0, every: float = 0.02) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
