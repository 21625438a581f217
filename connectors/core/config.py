"""Connector settings: the API endpoint and OAuth2 client credentials every connector needs. Each connector's
settings class is loaded with ``p2c.settings.load`` from a dotted TOML section
(``[source.crm]``, ``[sink.erp]``), its ``P2C_<SYSTEM>_*`` environment and the command-line options.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from p2c.connectors.core.auth import ClientCredentials
from p2c.connectors.core.http import ODataClient


class ApiSettings(BaseSettings):
    """Where an OData API is and how to get a token for it (subclasses set the env prefix)."""

    url: str
    #: path of the OData service root under ``url``
    api_path: str
    tenant: str = "p2c"
    client_id: str = "p2c"
    client_secret: SecretStr = SecretStr("p2c-sandbox-secret")
    #: default: ``{url}/{tenant}/oauth2/v2.0/token`` (the sandbox); Entra ID:
    #: ``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token``
    token_url: str | None = None
    #: default: ``{url}/.default``
    scope: str | None = None
    timeout: float = 60.0
    #: seconds between one-line metric summaries in the log
    report_interval: float = 30.0

    @property
    def service_root(self) -> str:
        return self.url.rstrip("/") + "/" + self.api_path.strip("/") + "/"

    def authenticator(self) -> ClientCredentials:
        token_url = self.token_url or f"{self.url.rstrip('/')}/{self.tenant}/oauth2/v2.0/token"
        return ClientCredentials(
            token_url, self.client_id, self.client_secret, self.scope or f"{self.url.rstrip('/')}/.default"
        )

    def client(self, name: str, **kwargs: Any) -> ODataClient:
        return ODataClient(self.service_root, self.authenticator(), timeout=self.timeout, name=name, **kwargs)
