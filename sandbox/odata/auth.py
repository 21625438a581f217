"""OAuth2 client credentials, the Microsoft Entra ID way, served by the sandbox itself.

``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, ``client_id``, ``client_secret``
and ``scope`` returns ``{"token_type": "Bearer", "expires_in": 3599, "access_token": ...}``. Tokens are
HS256-signed JWTs with a key kept in the data directory, so they stay valid when the service restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

TOKEN_LIFETIME_S = 3599
# The integration (its writes are tagged with its application user, so sources can ignore their own echoes)
# and a person working in the application (what a user types in Sales or FinOps).
INTEGRATION_CLIENT = ("p2c", "p2c-sandbox-secret")
USER_CLIENT = ("user", "user-sandbox-secret")
DEFAULT_CLIENTS = (INTEGRATION_CLIENT, USER_CLIENT)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_client(spec: str) -> tuple[str, str]:
    """``id:secret`` -> (id, secret)."""
    client_id, sep, secret = spec.partition(":")
    if not sep or not client_id or not secret:
        raise ValueError(f"a client is 'id:secret', got {spec!r}")
    return client_id, secret


@dataclass
class TokenError(Exception):
    status: int
    error: str
    description: str

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class Authority:
    """Issues and checks bearer tokens for a fixed set of confidential clients."""

    def __init__(self, clients: dict[str, str], key_file: Path, audience: str) -> None:
        self.clients = dict(clients)
        self.audience = audience
        key_file.parent.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
        self.key = bytes.fromhex(key_file.read_text().strip())

    def issue(self, form_body: bytes, tenant: str) -> dict[str, object]:
        form = dict(parse_qsl(form_body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise TokenError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            raise TokenError(
                400, "unauthorized_client", f"AADSTS700016: Application with identifier '{client_id}' was not found."
            )
        if not hmac.compare_digest(self.clients[client_id], form.get("client_secret", "")):
            raise TokenError(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        scope = form.get("scope", "")
        if not scope:
            raise TokenError(
                400, "invalid_request", "AADSTS900144: The request body must contain the parameter: 'scope'."
            )
        if not scope.endswith("/.default"):
            raise TokenError(400, "invalid_scope", f"AADSTS1002012: The provided value for scope {scope} is not valid.")
        now = int(time.time())
        claims = {
            "aud": self.audience,
            "iss": f"sandbox/{tenant}",
            "appid": client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
        }
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "ext_expires_in": TOKEN_LIFETIME_S,
            "access_token": self._sign(claims),
        }

    def _sign(self, claims: dict[str, object]) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(sig)}"

    def client_of(self, authorization: str | None) -> str | None:
        """The client id a valid ``Authorization: Bearer`` header belongs to, else None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        try:
            head, body, sig = token.split(".")
            expected = hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(sig)):
                return None
            claims = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            return None
        if claims.get("exp", 0) < time.time() or claims.get("appid") not in self.clients:
            return None
        return str(claims["appid"])
