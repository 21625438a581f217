"""An OData HTTP client: auth, standard headers, the error table and the retry loop in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from p2c.connectors.core.errors import raise_for, transport_error
from p2c.connectors.core.metrics import METRICS
from p2c.connectors.core.pace import Throttle
from p2c.connectors.core.retry import RetryPolicy, call_with_retry
from p2c.errors import P2CError, RetriableError
from p2c.metrics import Counters

log = logging.getLogger("p2c.connectors.http")

ODATA_HEADERS = {"OData-Version": "4.0", "OData-MaxVersion": "4.0", "Accept": "application/json"}


class ODataClient:
    """Requests against one OData service root (``.../api/data/v9.2/`` or ``.../data/``).

    Every call maps the response status through the error table and retries what the table calls
    retriable, with backoff honouring ``Retry-After``; after a 429 no request of this client goes before its
    ``Retry-After`` (:class:`~p2c.connectors.core.pace.Throttle`). ``request`` returns only successful responses.
    """

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        name: str = "odata",
        metrics: Counters = METRICS,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.retry = retry or RetryPolicy()
        self.name = name
        self.system = name.split()[0] if name.strip() else "odata"  # "crm source-crm" -> crm
        self.metrics = metrics
        self.throttle = Throttle()
        self.http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            transport=transport,
            timeout=timeout,
            headers=ODATA_HEADERS,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )

    def url(self, path: str) -> str:
        """Absolute URL for ``path`` relative to the service root (absolute URLs pass through)."""
        return str(self.http.build_request("GET", path).url)

    def relative(self, link: str) -> str:
        """``link`` (a next or delta link the service gave) relative to the service root.

        Positions are stored this way: an absolute link names the address the service had then, and a source
        restarted against the same organisation at another address (a changed URL, a proxy, another port)
        would follow it to nowhere forever.
        """
        parts, root = urlsplit(link), urlsplit(self.base_url)
        if not parts.scheme or not parts.path.startswith(root.path):
            return link
        return parts.path[len(root.path) :] + (f"?{parts.query}" if parts.query else "")

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        json: Any,
        what: str,
    ) -> httpx.Response:
        self.throttle.wait()
        try:
            response = self.http.request(method, path, params=params, headers=headers, content=content, json=json)
        except httpx.TransportError as exc:
            self.metrics.call(self.system, 0)
            raise transport_error(exc, what) from exc
        try:
            raise_for(response, what=what)
        except RetriableError as exc:
            self.metrics.call(self.system, response.status_code, exc.retry_after)
            if response.status_code == 429:  # nothing more from this client before Retry-After
                self.throttle.block(exc.retry_after if exc.retry_after is not None else 1.0)
            raise
        except P2CError:
            self.metrics.call(self.system, response.status_code)
            raise
        self.metrics.call(self.system, response.status_code)
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        what: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        label = what or f"{self.name} {method} {path.split('?')[0]}"
        return call_with_retry(
            lambda: self._send_once(
                method, path, params=params, headers=headers, content=content, json=json, what=label
            ),
            label,
            retry or self.retry,
        )

    def get_json(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object ``path`` answers. A 200 whose body is no JSON object (a proxy's HTML error page, a
        body cut short) is a RetriableError: the page is read again, never taken as empty."""
        response = self.request("GET", path, **kwargs)
        try:
            doc = response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "no content type")
            raise RetriableError(
                f"{self.name} GET {path.split('?')[0]}: a {response.status_code} answer that is not JSON ({kind}, "
                f"{len(response.content)} bytes: {exc}); a proxy or gateway between p2c and the service may "
                "be answering for it; reading the page again"
            ) from exc
        if not isinstance(doc, dict):
            raise RetriableError(f"{self.name} GET {path.split('?')[0]}: the answer is JSON but not an object")
        return doc

    def close(self) -> None:
        self.http.close()
