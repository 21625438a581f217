"""OAuth 2.0 client credentials as an ``httpx.Auth``: token cached until shortly before it expires,
fetched again once when the API answers 401 (a token revoked or expired early).

Works for Microsoft Entra ID (``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token``, scope
``https://{org}.crm.dynamics.com/.default``) and for the sandboxes, which serve the same endpoint shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx
from pydantic import SecretStr

from p2c.connectors.core.errors import error_message
from p2c.errors import ConfigurationError, RetriableError


class ClientCredentials(httpx.Auth):
    """Bearer tokens from a client-credentials grant."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None = None,
        *,
        refresh_margin: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at - self.refresh_margin

    def invalidate(self) -> None:
        self._token = None

    def _token_request(self) -> httpx.Request:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret.get_secret_value(),
        }
        if self.scope:
            data["scope"] = self.scope
        return httpx.Request("POST", self.token_url, data=data, headers={"Accept": "application/json"})

    def _accept(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (400, 401, 403):
            raise ConfigurationError(
                f"token endpoint {self.token_url} refused client {self.client_id!r} (HTTP {status}: "
                f"{error_message(response.content)}); check the client id, client secret, tenant and scope"
            )
        if status == 429 or status >= 500:
            raise RetriableError(f"token endpoint {self.token_url}: HTTP {status}")
        if status >= 300:
            raise ConfigurationError(f"token endpoint {self.token_url}: unexpected HTTP {status}")
        try:
            doc = response.json()
            token = str(doc["access_token"])
            lifetime = float(doc.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"token endpoint {self.token_url} did not return a token: {exc}") from exc
        self._token = token
        self._expires_at = self._clock() + lifetime
        self.fetches += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._valid():
            self._accept((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self.invalidate()
            self._accept((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request
