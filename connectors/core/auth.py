"""OAuth 2.0 client credentials as an ``httpx.Auth``: token cached until shortly before it expires,
fetched again once when the API answers 401 (a token revoked or expired early).

Works for Microsoft Entra ID (``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token``, scope
``https://{org}.crm.dynamics.com/.default``) and for the sandboxes, which serve the same endpoint shape.
The client proves who it is with a client secret or, where a tenant forbids secrets, with a certificate: a
client assertion (a JWT signed PS256 with the certificate's private key, ``x5t#S256`` its SHA-256 thumbprint,
``aud`` the token endpoint), made fresh for every token request.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Generator
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from p2c.connectors.core.errors import error_message
from p2c.errors import ConfigurationError, RetriableError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Certificate:
    """A client certificate and its private key, from one PEM file (key and certificate, as Entra ID's docs
    and ``openssl`` make them)."""

    def __init__(self, path: Path, password: SecretStr | None = None) -> None:
        try:
            pem = path.read_bytes()
            secret = password.get_secret_value().encode() if password else None
            key = serialization.load_pem_private_key(pem, secret)
            cert = x509.load_pem_x509_certificate(pem)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot read the client certificate {path}: {exc}; it must be one PEM file holding the private key "
                f"and the certificate (with client_certificate_password if the key is encrypted)"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError(f"the client certificate {path} must have an RSA key (Entra ID signs RS/PS256)")
        self.key = key
        self.thumbprint_s256 = _b64(cert.fingerprint(hashes.SHA256()))

    def assertion(self, client_id: str, audience: str, now: float | None = None) -> str:
        """A signed client assertion for ``audience`` (the token endpoint), valid for ten minutes."""
        issued = int(now if now is not None else time.time())
        header = {"alg": "PS256", "typ": "JWT", "x5t#S256": self.thumbprint_s256}
        claims = {
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": str(uuid.uuid4()),
            "nbf": issued,
            "iat": issued,
            "exp": issued + 600,
        }
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        signature = self.key.sign(signing.encode(), pss, hashes.SHA256())
        return f"{signing}.{_b64(signature)}"


class ClientCredentials(httpx.Auth):
    """Bearer tokens from a client-credentials grant, proven by a client secret or a certificate."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr | None,
        scope: str | None = None,
        *,
        certificate: Certificate | None = None,
        refresh_margin: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client_secret is None and certificate is None:
            raise ConfigurationError(f"client {client_id!r} needs a client secret or a client certificate")
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.certificate = certificate
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
        data = {"grant_type": "client_credentials", "client_id": self.client_id}
        if self.certificate is not None:
            data["client_assertion_type"] = ASSERTION_TYPE
            data["client_assertion"] = self.certificate.assertion(self.client_id, self.token_url)
        elif self._secret is not None:
            data["client_secret"] = self._secret.get_secret_value()
        if self.scope:
            data["scope"] = self.scope
        return httpx.Request("POST", self.token_url, data=data, headers={"Accept": "application/json"})

    def _accept(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (400, 401, 403):
            raise ConfigurationError(
                f"token endpoint {self.token_url} refused client {self.client_id!r} (HTTP {status}: "
                f"{error_message(response.content)}); check the client id, "
                f"{'client certificate' if self.certificate else 'client secret'}, tenant and scope"
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
