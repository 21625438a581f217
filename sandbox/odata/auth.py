"""OAuth2 client credentials, the Microsoft Entra ID way, served by the sandbox itself.

``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, ``client_id``, ``scope`` and either
``client_secret`` or a certificate credential (``client_assertion_type=urn:ietf:params:oauth:client-assertion-
type:jwt-bearer`` and ``client_assertion``: a JWT signed RS256 or PS256 with the certificate's private key, its
``x5t`` or ``x5t#S256`` header the certificate's thumbprint, ``aud`` the token endpoint, ``iss`` and ``sub`` the
client id) returns ``{"token_type": "Bearer", "expires_in": 3599, "access_token": ...}``. Tokens are
HS256-signed JWTs with a key kept in the data directory, so they stay valid when the service restarts.
``GET /{tenant}/v2.0/.well-known/openid-configuration`` is the OpenID discovery document MSAL reads first.
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

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TOKEN_LIFETIME_S = 3599
# The integration (its writes are tagged with its application user, so sources can ignore their own echoes)
# and a person working in the application (what a user types in Sales or FinOps).
INTEGRATION_CLIENT = ("p2c", "p2c-sandbox-secret")
USER_CLIENT = ("user", "user-sandbox-secret")
DEFAULT_CLIENTS = (INTEGRATION_CLIENT, USER_CLIENT)
#: the CRM sink's own application user, where limits are per user (``p2c up --crm-service-protection``)
CRM_SINK_CLIENT = ("p2c-sink", "p2c-sink-sandbox-secret")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


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


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def parse_certificate_client(spec: str) -> tuple[str, x509.Certificate]:
    """``id:/path/to/cert.pem`` -> (id, the client's public certificate)."""
    client_id, sep, path = spec.partition(":")
    if not sep or not client_id or not path:
        raise ValueError(f"a certificate client is 'id:certificate.pem', got {spec!r}")
    try:
        return client_id, load_certificate(Path(path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the certificate of client {client_id!r} from {path}: {exc}") from exc


class Authority:
    """Issues and checks bearer tokens for a fixed set of confidential clients (secret or certificate)."""

    def __init__(
        self,
        clients: dict[str, str],
        key_file: Path,
        audience: str,
        certificates: dict[str, x509.Certificate] | None = None,
    ) -> None:
        self.clients = dict(clients)
        self.certificates = dict(certificates or {})
        self.audience = audience
        key_file.parent.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
        self.key = bytes.fromhex(key_file.read_text().strip())
        self._seen_assertions: dict[str, float] = {}

    def discovery(self, base_url: str, tenant: str) -> dict[str, object]:
        """The OpenID Connect discovery document of ``tenant`` (Entra ID's v2.0 shape)."""
        root = f"{base_url.rstrip('/')}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base_url.rstrip('/')}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{root}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{root}/openid/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid"],
            "tenant_region_scope": None,
            "cloud_instance_name": "sandbox.local",
        }

    def issue(self, form_body: bytes, tenant: str, token_url: str = "") -> dict[str, object]:
        form = dict(parse_qsl(form_body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise TokenError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        if client_id not in self.clients and client_id not in self.certificates:
            raise TokenError(
                400, "unauthorized_client", f"AADSTS700016: Application with identifier '{client_id}' was not found."
            )
        if form.get("client_assertion") or form.get("client_assertion_type"):
            self._check_assertion(form, client_id, token_url)
        elif client_id in self.certificates and client_id not in self.clients:
            raise TokenError(
                401,
                "invalid_client",
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        elif not hmac.compare_digest(self.clients[client_id], form.get("client_secret", "")):
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

    def _check_assertion(self, form: dict[str, str], client_id: str, token_url: str) -> None:
        """A certificate credential: the signed client assertion of ``client_id``, checked as Entra ID does."""

        def refuse(code: str, text: str) -> TokenError:
            return TokenError(401, "invalid_client", f"{code}: {text}")

        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError(400, "invalid_request", f"AADSTS50027: client_assertion_type must be {ASSERTION_TYPE}.")
        cert = self.certificates.get(client_id)
        if cert is None:
            raise refuse("AADSTS700027", f"No certificate is registered for application '{client_id}'.")
        try:
            head_b64, body_b64, sig_b64 = form.get("client_assertion", "").split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(body_b64))
            signature = _unb64(sig_b64)
        except (ValueError, json.JSONDecodeError) as exc:
            raise refuse("AADSTS50027", "Invalid JWT token: the client assertion is not a JWT.") from exc
        der = cert.public_bytes(serialization.Encoding.DER)
        # x5t is the SHA-1 thumbprint by definition (RFC 7515), x5t#S256 the SHA-256 one
        thumbprints = {_b64(hashlib.sha1(der).digest()), _b64(hashlib.sha256(der).digest())}
        given = {str(header.get(h, "")).rstrip("=") for h in ("x5t", "x5t#S256")}  # padded or not
        if not given & thumbprints:
            raise refuse(
                "AADSTS700027",
                f"The certificate with identifier used to sign the client assertion is not registered on application "
                f"'{client_id}' (no matching x5t thumbprint).",
            )
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise refuse("AADSTS700027", "Only RSA certificates are supported.")
        signed = f"{head_b64}.{body_b64}".encode()
        pad: padding.AsymmetricPadding
        if header.get("alg") == "RS256":
            pad = padding.PKCS1v15()
        elif header.get("alg") == "PS256":
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        else:
            raise refuse("AADSTS5002738", f"The signing algorithm '{header.get('alg')}' is not supported.")
        try:
            public.verify(signature, signed, pad, hashes.SHA256())
        except InvalidSignature as exc:
            raise refuse("AADSTS700027", "Client assertion contains an invalid signature.") from exc
        now = time.time()
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise refuse("AADSTS700023", "The client assertion's iss and sub must both be the client id.")
        if token_url and claims.get("aud") != token_url:
            raise refuse("AADSTS700021", f"The client assertion's audience must be the token endpoint {token_url}.")
        if float(claims.get("exp", 0)) < now - 300 or float(claims.get("nbf", 0)) > now + 300:
            raise refuse("AADSTS700024", "The client assertion is not within its valid time range.")
        jti = str(claims.get("jti", ""))
        self._seen_assertions = {k: v for k, v in self._seen_assertions.items() if v > now}
        if jti and jti in self._seen_assertions:
            raise refuse("AADSTS700025", "The client assertion was already used (the same jti).")
        if jti:
            self._seen_assertions[jti] = float(claims.get("exp", now + 600))

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
        known = claims.get("appid") in self.clients or claims.get("appid") in self.certificates
        if claims.get("exp", 0) < time.time() or not known:
            return None
        return str(claims["appid"])
