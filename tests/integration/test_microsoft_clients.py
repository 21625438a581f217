"""The CRM sandbox judged by Microsoft's own clients, used as a new user would, with nothing of p2c's:
``msal`` gets tokens with a client secret and with a certificate, and the Dataverse SDK for Python
(``PowerPlatform-Dataverse-Client``) creates, reads, updates, upserts by alternate key, deletes and lists accounts
with paging, over HTTPS with the sandbox's self-signed certificate."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import msal
import pytest
import requests
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from p2c.process import ManagedProcess, free_port, p2c_command, tcp_open
from p2c.sandbox.odata.tls import self_signed

TENANT = "contoso"
SECRET_CLIENT = ("p2c", "p2c-sandbox-secret")
CERT_CLIENT = "p2c-cert"


class Sandbox:
    def __init__(self, base: str, ca_file: Path, cert_pem: bytes, key_pem: bytes) -> None:
        self.base, self.ca_file, self.cert_pem, self.key_pem = base, ca_file, cert_pem, key_pem

    @property
    def scope(self) -> str:
        return f"{self.base}/.default"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("microsoft-clients")
    cert_pem, key_pem = self_signed(CERT_CLIENT, hosts=("p2c-cert.example",))
    (tmp / "client-cert.pem").write_bytes(cert_pem)
    port = free_port()
    argv = p2c_command(
        "sandbox",
        "crm",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / "crm"),
        "--tls",
        "--client",
        ":".join(SECRET_CLIENT),
        "--client-cert",
        f"{CERT_CLIENT}:{tmp / 'client-cert.pem'}",
    )
    process = ManagedProcess("crm", argv, ready=tcp_open("127.0.0.1", port), log_path=tmp / "crm.log")
    process.start(timeout=30)
    try:
        yield Sandbox(f"https://127.0.0.1:{port}", tmp / "crm" / "tls-cert.pem", cert_pem, key_pem)
    finally:
        process.stop()


@pytest.fixture
def trusted(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """requests (under msal, azure-identity and the SDK) trusts the sandbox's self-signed certificate."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_file))
    return sandbox


def who_am_i(sandbox: Sandbox, token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.base}/api/data/v9.2/WhoAmI",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )


def test_plain_http_is_refused_by_msal(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="https"):
        msal.ConfidentialClientApplication(
            SECRET_CLIENT[0], client_credential=SECRET_CLIENT[1], authority=sandbox.base.replace("https", "http")
        )


def test_msal_gets_a_token_with_a_client_secret(trusted: Sandbox) -> None:
    app = msal.ConfidentialClientApplication(
        SECRET_CLIENT[0],
        client_credential=SECRET_CLIENT[1],
        authority=f"{trusted.base}/{TENANT}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[trusted.scope])
    assert "access_token" in result, result
    assert who_am_i(trusted, result["access_token"]).json()["UserId"]
    wrong = msal.ConfidentialClientApplication(
        SECRET_CLIENT[0], client_credential="wrong", authority=f"{trusted.base}/{TENANT}", instance_discovery=False
    )
    refused = wrong.acquire_token_for_client(scopes=[trusted.scope])
    assert refused["error"] == "invalid_client" and "AADSTS7000215" in refused["error_description"]


def test_msal_gets_a_token_with_a_certificate(trusted: Sandbox) -> None:
    # the public certificate given: msal signs PS256 with the x5t#S256 thumbprint
    app = msal.ConfidentialClientApplication(
        CERT_CLIENT,
        client_credential={"private_key": trusted.key_pem.decode(), "public_certificate": trusted.cert_pem.decode()},
        authority=f"{trusted.base}/{TENANT}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[trusted.scope])
    assert "access_token" in result, result
    assert who_am_i(trusted, result["access_token"]).status_code == 200
    # only the SHA-1 thumbprint given: msal signs RS256 with x5t
    der = x509.load_pem_x509_certificate(trusted.cert_pem).public_bytes(serialization.Encoding.DER)
    thumbprint = hashlib.sha1(der).hexdigest()
    legacy = msal.ConfidentialClientApplication(
        CERT_CLIENT,
        client_credential={"private_key": trusted.key_pem.decode(), "thumbprint": thumbprint},
        authority=f"{trusted.base}/{TENANT}",
        instance_discovery=False,
    )
    assert "access_token" in legacy.acquire_token_for_client(scopes=[trusted.scope])


def test_a_certificate_the_tenant_does_not_know_is_refused(trusted: Sandbox) -> None:
    other_cert, other_key = self_signed("someone-else", hosts=("other.example",))
    app = msal.ConfidentialClientApplication(
        CERT_CLIENT,
        client_credential={"private_key": other_key.decode(), "public_certificate": other_cert.decode()},
        authority=f"{trusted.base}/{TENANT}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[trusted.scope])
    assert result.get("error") == "invalid_client" and "AADSTS700027" in result["error_description"]


def sdk(sandbox: Sandbox, certificate: bool = False) -> DataverseClient:
    host = sandbox.base.removeprefix("https://")
    if certificate:
        pem = sandbox.key_pem + sandbox.cert_pem
        credential: ClientSecretCredential | CertificateCredential = CertificateCredential(
            TENANT, CERT_CLIENT, certificate_data=pem, authority=host, disable_instance_discovery=True
        )
    else:
        credential = ClientSecretCredential(
            TENANT, SECRET_CLIENT[0], SECRET_CLIENT[1], authority=host, disable_instance_discovery=True
        )
    return DataverseClient(sandbox.base, credential)


def test_the_dataverse_sdk_creates_reads_updates_upserts_deletes_and_pages_accounts(trusted: Sandbox) -> None:
    run = uuid.uuid4().hex[:8].upper()
    with sdk(trusted) as client:
        account_id = client.records.create("account", {"name": f"Fabrikam {run}", "accountnumber": f"SDK-{run}"})
        record = client.records.retrieve("account", account_id, select=["name", "accountnumber"])
        assert record is not None
        assert record["name"] == f"Fabrikam {run}" and record["accountnumber"] == f"SDK-{run}"

        client.records.update("account", account_id, {"telephone1": "+1 555 0100"})
        phone = client.records.retrieve("account", account_id, select=["telephone1"])
        assert phone is not None and phone["telephone1"] == "+1 555 0100"

        # upsert by the alternate key on accountnumber: updates the row that has it, creates one that does not
        client.records.upsert("account", [UpsertItem({"accountnumber": f"SDK-{run}"}, {"name": f"Renamed {run}"})])
        renamed = client.records.retrieve("account", account_id, select=["name"])
        assert renamed is not None and renamed["name"] == f"Renamed {run}"
        client.records.upsert("account", [UpsertItem({"accountnumber": f"NEW-{run}"}, {"name": f"Created {run}"})])
        created = client.records.list("account", filter=f"accountnumber eq 'NEW-{run}'", select=["name"])
        assert [r["name"] for r in created] == [f"Created {run}"]

        for i in range(5):
            client.records.create("account", {"name": f"Paged {run} {i}"})
        pages = list(
            client.records.list_pages("account", filter=f"startswith(name,'Paged {run}')", select=["name"], page_size=2)
        )
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(r["name"] for p in pages for r in p) == [f"Paged {run} {i}" for i in range(5)]

        client.records.delete("account", account_id)
        assert client.records.retrieve("account", account_id) is None  # the SDK's answer to a 404
        with pytest.raises(HttpError) as missing:
            client.records.delete("account", account_id)
        assert missing.value.status_code == 404


def test_the_dataverse_sdk_signs_in_with_a_certificate_and_reads_metadata(trusted: Sandbox) -> None:
    with sdk(trusted, certificate=True) as client:
        info = client.tables.get("account")
        assert info is not None and info["entity_set_name"] == "accounts"
        keys = client.tables.get_alternate_keys("account")
        assert [(k.key_attributes, k.status) for k in keys] == [(["accountnumber"], "Active")]
