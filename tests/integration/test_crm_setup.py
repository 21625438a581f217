"""On a CRM sandbox started as a tenant without change tracking on contacts and without the key on products, p2c's
CRM source and sink refuse to start naming both, `p2c setup crm` reports them, and `p2c setup crm --apply` fixes
both (waiting for the key's index to become Active); then p2c has all it needs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.process import ManagedProcess, free_port, http_ok, p2c_command

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def lacking(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = p2c_command(
        "sandbox",
        "crm",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "crm"),
        "--without-change-tracking",
        "contact",
        "--without-key",
        "product",
    )
    process = ManagedProcess(
        "crm", argv, ready=http_ok(base + "/api/data/v9.2/$metadata"), log_path=tmp_path / "crm.log"
    )
    process.start(timeout=30)
    try:
        yield base
    finally:
        process.stop()


def p2c(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(p2c_command(*args), capture_output=True, text=True, timeout=90)


def test_p2c_refuses_a_tenant_that_lacks_tracking_and_a_key_and_setup_apply_fixes_both(lacking: str) -> None:
    unreachable_kafka = ("--bootstrap-servers", f"127.0.0.1:{free_port()}")
    source = p2c("source", "run", "crm", "--crm-url", lacking, *unreachable_kafka)
    assert source.returncode == 2, source.stderr
    assert "CRM table contact: change tracking is off; fix: turn on Track changes for contact" in source.stderr
    sink = p2c("sink", "run", "crm", "--crm-url", lacking, *unreachable_kafka)
    assert sink.returncode == 2, sink.stderr
    assert "CRM table product: no alternate key on productnumber" in sink.stderr

    report = p2c("setup", "crm", "--crm-url", lacking)
    assert report.returncode == 2
    assert "missing: CRM table contact: change tracking is off" in report.stdout
    assert "missing: CRM table product: no alternate key on productnumber" in report.stdout

    applied = p2c("setup", "crm", "--crm-url", lacking, "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "ready: the CRM has everything p2c needs" in applied.stdout
    assert "created alternate key p2c_productnumber on product(productnumber)" in applied.stderr
    assert "turned change tracking on for contact" in applied.stderr

    again = p2c("setup", "crm", "--crm-url", lacking)
    assert again.returncode == 0 and "ready" in again.stdout
