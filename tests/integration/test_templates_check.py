"""``p2c templates check`` against a real registry: a customer's schemas are asked of the registry before they
run, and one it would refuse is named with the registry's reason (exit 1); no registry: exit 3."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.init import register_all
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.schemas_cli import Registry
from p2c.settings import RegistrySettings
from tests.support.custom_field import customize_accounts, own_dirs, with_field

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def own_registry(kafka_bootstrap: str, logs_dir: Path) -> Iterator[str]:
    """A registry of its own (its own log topic), holding the shipped schemas: no other test sees it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = p2c_command(
        "registry", "serve", "--port", str(port), "--bootstrap-servers", kafka_bootstrap, "--topic", f"_s-{port}"
    )
    process = ManagedProcess("registry-templates", argv, ready=http_ok(f"{url}/subjects"), log_path=logs_dir / "rt.log")
    process.start(timeout=30)
    try:
        register_all(RegistrySettings(schema_registry_url=url))
        yield url
    finally:
        process.stop()


def check(tmp_path: Path, registry_url: str) -> subprocess.CompletedProcess[str]:
    argv = p2c_command(
        "templates",
        "check",
        "--templates-dir",
        str(tmp_path / "templates"),
        "--schemas-dir",
        str(tmp_path / "schemas"),
        "--schema-registry-url",
        registry_url,
    )
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)


def test_a_custom_field_the_registry_takes_passes(tmp_path: Path, own_registry: str) -> None:
    customize_accounts(*own_dirs(tmp_path))
    result = check(tmp_path, own_registry)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fit the contracts and the flows and the registry" in result.stdout


def test_a_schema_the_registry_would_refuse_is_named_with_the_reason(tmp_path: Path, own_registry: str) -> None:
    customize_accounts(*own_dirs(tmp_path))
    # The registry already holds a later version where the custom column is a number (someone registered it).
    column = {"name": "new_loyaltytier", "type": ["null", "int"], "default": None}
    registry = Registry(RegistrySettings(schema_registry_url=own_registry))
    try:
        subject = "p2c.src.crm.accounts-value"
        status, body = registry.rest(
            "POST",
            f"/subjects/{subject}/versions",
            {"schema": json.dumps(with_field("p2c.src.crm.accounts", "before", column))},
        )
        assert status == 200, body
    finally:
        registry.close()
    result = check(tmp_path, own_registry)
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = [line for line in result.stdout.splitlines() if "the registry refuses it" in line]
    assert str(tmp_path / "schemas" / "p2c.src.crm.accounts.avsc") in line
    assert f"for {subject} (BACKWARD)" in line and "after.Account.new_loyaltytier" in line


def test_no_registry_is_exit_3_and_says_which(tmp_path: Path) -> None:
    customize_accounts(*own_dirs(tmp_path))
    result = check(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3
    assert "cannot reach the schema registry" in result.stderr
