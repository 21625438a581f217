"""Connector settings: the API endpoint and OAuth2 client credentials every connector needs, and loading a
settings class from a dotted TOML section (``[source.crm]``, ``[sink.erp]``) + environment + options.

Precedence: command-line options > ``P2C_<SYSTEM>_*`` environment > the TOML section > defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from connectors.core.auth import ClientCredentials
from connectors.core.http import ODataClient
from p2c.errors import ConfigurationError

S = TypeVar("S", bound=BaseSettings)


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


def _section(doc: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = doc
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return dict(node) if isinstance(node, dict) else {}


def load_section(cls: type[S], section: str, config_file: str | Path | None = None, **overrides: Any) -> S:
    """Settings ``cls`` from ``[section]`` (dotted: ``source.crm``) of the TOML file, env and options."""
    from_file: dict[str, Any] = {}
    path = config_file or os.environ.get("P2C_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                from_file = _section(tomllib.load(fh), section)
        except FileNotFoundError as exc:
            raise ConfigurationError(f"config file {path} not found: pass an existing file to --config") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    env_keys = {k for k in cls.model_fields if f"{prefix}{k}".upper() in os.environ}
    values = {k: v for k, v in from_file.items() if k not in env_keys}
    values |= {k: v for k, v in overrides.items() if v is not None}
    try:
        return cls(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        where = f" (section [{section}] of {path})" if from_file else ""
        raise ConfigurationError(f"invalid {cls.__name__}{where}: {problems}") from exc
