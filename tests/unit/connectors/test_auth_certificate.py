"""p2c signs in with a certificate: its client assertion is checked by the sandbox's token endpoint (the same
checks Entra ID makes: thumbprint, signature, audience, issuer, lifetime), through httpx.MockTransport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography import x509
from pydantic import SecretStr

from p2c.connectors.core.auth import Certificate, ClientCredentials
from p2c.connectors.dataverse.settings import CrmSourceSettings
from p2c.errors import ConfigurationError
from p2c.sandbox.odata.auth import Authority, TokenError
from p2c.sandbox.odata.tls import self_signed

TOKEN_URL = "https://login.example/contoso/oauth2/v2.0/token"


def pem_file(tmp_path: Path, name: str) -> tuple[Path, x509.Certificate]:
    cert_pem, key_pem = self_signed(name, hosts=(f"{name}.example",))
    path = tmp_path / f"{name}.pem"
    path.write_bytes(key_pem + cert_pem)
    return path, x509.load_pem_x509_certificate(cert_pem)


def transport(authority: Authority, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if str(request.url) == TOKEN_URL:
            try:
                return httpx.Response(200, json=authority.issue(request.content, "contoso", TOKEN_URL))
            except TokenError as err:
                return httpx.Response(err.status, json=err.body())
        client = authority.client_of(request.headers.get("Authorization"))
        return httpx.Response(200 if client else 401, json={"client": client})

    return httpx.MockTransport(handle)


def test_a_certificate_credential_gets_a_token_and_a_new_assertion_each_time(tmp_path: Path) -> None:
    path, cert = pem_file(tmp_path, "p2c-cert")
    authority = Authority({}, tmp_path / "key", "crm", certificates={"p2c-cert": cert})
    seen: list[httpx.Request] = []
    auth = ClientCredentials(TOKEN_URL, "p2c-cert", None, "https://crm/.default", certificate=Certificate(path))
    with httpx.Client(transport=transport(authority, seen), auth=auth) as client:
        assert client.get("https://crm/api/data/v9.2/WhoAmI").json() == {"client": "p2c-cert"}
        auth.invalidate()
        assert client.get("https://crm/api/data/v9.2/WhoAmI").status_code == 200
    forms = [r.content.decode() for r in seen if str(r.url) == TOKEN_URL]
    assert len(forms) == 2 and "client_secret" not in forms[0] and "client_assertion=" in forms[0]
    assert forms[0] != forms[1]  # a fresh assertion (its own jti) for every token request


def test_a_certificate_the_app_does_not_know_is_a_configuration_error(tmp_path: Path) -> None:
    path, _cert = pem_file(tmp_path, "stranger")
    _other, registered = pem_file(tmp_path, "registered")
    authority = Authority({}, tmp_path / "key", "crm", certificates={"p2c-cert": registered})
    auth = ClientCredentials(TOKEN_URL, "p2c-cert", None, "https://crm/.default", certificate=Certificate(path))
    with (
        httpx.Client(transport=transport(authority, []), auth=auth) as client,
        pytest.raises(ConfigurationError, match=r"AADSTS700027.*check the client id, client certificate"),
    ):
        client.get("https://crm/api/data/v9.2/WhoAmI")


def test_settings_choose_the_certificate_over_the_secret(tmp_path: Path) -> None:
    path, _cert = pem_file(tmp_path, "p2c-cert")
    settings = CrmSourceSettings(client_certificate=path)
    auth = settings.authenticator()
    assert auth.certificate is not None and auth._secret is None
    with pytest.raises(ConfigurationError, match="cannot read the client certificate"):
        CrmSourceSettings(client_certificate=tmp_path / "missing.pem").authenticator()
    with pytest.raises(ConfigurationError, match="needs a client secret or a client certificate"):
        ClientCredentials(TOKEN_URL, "x", None)
    assert CrmSourceSettings(client_secret=SecretStr("s")).authenticator().certificate is None
