"""Connector settings: the API endpoint and OAuth2 client credentials every connector needs. Each connector's
settings class is loaded with ``p2c.settings.load`` from a dotted TOML section
(``[source.crm]``, ``[sink.erp]``), its ``P2C_<SYSTEM>_*`` environment and the command-line options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from p2c.connectors.core.auth import Certificate, ClientCredentials
from p2c.connectors.core.http import ODataClient


class ApiSettings(BaseSettings):
    """Where an OData API is and how to get a token for it (subclasses set the env prefix)."""

    url: str
    #: path of the OData service root under ``url``
    api_path: str
    tenant: str = "p2c"
    client_id: str = "p2c"
    client_secret: SecretStr = SecretStr("p2c-sandbox-secret")
    #: a PEM file with the private key and certificate: sign in with a certificate instead of the secret
    client_certificate: Path | None = None
    client_certificate_password: SecretStr | None = None
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
        certificate = None
        if self.client_certificate is not None:
            certificate = Certificate(self.client_certificate, self.client_certificate_password)
        return ClientCredentials(
            token_url,
            self.client_id,
            None if certificate else self.client_secret,
            self.scope or f"{self.url.rstrip('/')}/.default",
            certificate=certificate,
        )

    def client(self, name: str, **kwargs: Any) -> ODataClient:
        return ODataClient(self.service_root, self.authenticator(), timeout=self.timeout, name=name, **kwargs)
