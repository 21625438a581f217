"""``p2c schemas`` against the session's ``p2c registry serve``.

The real contracts are registered idempotently, so sharing the registry with other tests is fine; every
mutation goes to a scratch subject of its own.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from p2c.cli import main
from p2c.flows import WITH_SCHEMAS
from p2c.process import p2c_command
from p2c.schemas_cli import Registry, register_one
from p2c.settings import RegistrySettings

with warnings.catch_warnings(record=True):  # Authlib warns on import when httpx2 is missing
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

pytestmark = pytest.mark.timeout(60)

SUBJECTS = sorted(t.subject for t in WITH_SCHEMAS)
V1: dict[str, Any] = {
    "type": "record",
    "name": "Customer",
    "namespace": "p2c.test",
    "doc": "A scratch record.",
    "fields": [
        {"name": "id", "type": "string", "doc": "Key."},
        {
            "name": "address",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Address",
                    "doc": "Where.",
                    "fields": [{"name": "city", "type": ["null", "string"], "default": None, "doc": "City."}],
                },
            ],
            "default": None,
            "doc": "Postal address.",
        },
    ],
}


def with_field(schema: dict[str, Any], field: dict[str, Any], nested: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    fields = out["fields"][1]["type"][1]["fields"] if nested else out["fields"]
    fields.append(field)
    return out


def run(registry_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["schemas", *args, "--schema-registry-url", registry_url])


def rows(output: str) -> dict[str, list[str]]:
    """Table rows by their first cell."""
    return {line.split()[0]: line.split()[1:] for line in output.splitlines()[1:] if line.strip()}


@pytest.fixture(scope="module")
def client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        yield client


@pytest.fixture
def scratch(client: SchemaRegistryClient) -> str:
    """A subject of this test's own, holding V1."""
    subject = f"p2c.test.scratch-{uuid.uuid4().hex[:8]}-value"
    client.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    return subject


def test_register_is_idempotent(registry_url: str) -> None:
    first = run(registry_url, "register")
    assert first.exit_code == 0, first.output
    first_rows = rows(first.stdout)
    assert sorted(first_rows) == SUBJECTS
    assert all(row[2] in ("registered", "unchanged") for row in first_rows.values())

    second = run(registry_url, "register")
    assert second.exit_code == 0, second.output
    second_rows = rows(second.stdout)
    assert {s: row[2] for s, row in second_rows.items()} == dict.fromkeys(SUBJECTS, "unchanged")
    assert {s: row[:2] for s, row in second_rows.items()} == {s: row[:2] for s, row in first_rows.items()}


def test_list_shows_every_subject_at_version_1_backward(registry_url: str) -> None:
    assert run(registry_url, "register").exit_code == 0
    result = run(registry_url, "list")
    assert result.exit_code == 0, result.output
    header, *_ = result.stdout.splitlines()
    assert header.split() == ["subject", "version", "id", "compatibility"]
    listed = rows(result.stdout)
    for subject in SUBJECTS:
        version, schema_id, level, *_ = listed[subject]
        assert version == "1" and schema_id.isdigit() and level == "BACKWARD", listed[subject]


def test_show_prints_the_schema_under_a_header(registry_url: str) -> None:
    assert run(registry_url, "register").exit_code == 0
    result = run(registry_url, "show", "p2c.src.crm.accounts-value", "--version", "1")
    assert result.exit_code == 0, result.output
    header, body = result.stdout.split("\n", 1)
    assert "p2c.src.crm.accounts-value" in header and "version 1" in header and "id " in header
    assert body.startswith('{\n  "type": "record"')
    assert json.loads(body)["name"] == "AccountChange"
    assert [f["name"] for f in json.loads(body)["fields"]] == ["op", "before", "after", "source", "ts_ms"]


def test_show_unknown_subject_and_version_say_what_exists(registry_url: str, scratch: str) -> None:
    result = run(registry_url, "show", "p2c.test.nope-value")
    assert result.exit_code == 1 and "p2c schemas list" in result.output
    result = run(registry_url, "show", scratch, "--version", "9")
    assert result.exit_code == 1 and "has no version 9" in result.output and "versions 1" in result.output


def test_diff_of_a_compatible_v2(registry_url: str, client: SchemaRegistryClient, scratch: str) -> None:
    v2 = with_field(V1, {"name": "zip", "type": ["null", "string"], "default": None, "doc": "Postcode."}, nested=True)
    v2["fields"][0]["doc"] = "Customer key."
    client.register_schema(scratch, Schema(json.dumps(v2), "AVRO"))

    result = run(registry_url, "diff", scratch, "1", "latest")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{scratch}: version 1 (id ") and "-> version 2" in lines[0]
    assert lines[1].split() == ["change", "field", "detail"]
    assert lines[2].split() == ["added", "address.Address.zip", "null", "|", "string,", "default", "null"]
    assert lines[3].split()[:2] == ["changed", "id"] and "'Customer key.'" in lines[3]
    assert "version 2 reads data written with version 1: yes" in result.stdout
    assert "version 1 reads data written with version 2: yes" in result.stdout


def test_check_rejects_a_field_without_default(registry_url: str, scratch: str, tmp_path: Path) -> None:
    path = tmp_path / "v2.avsc"
    path.write_text(json.dumps(with_field(V1, {"name": "segment", "type": "string", "doc": "Segment."})))
    result = run(registry_url, "check", str(path), "--subject", scratch)
    assert result.exit_code == 1, result.output
    assert "incompatible (BACKWARD)" in result.stdout
    assert "segment" in result.stdout  # the reason names the field
    assert "the new schema cannot read old data: segment: the reader's field has no default" in result.stdout


def test_check_accepts_a_field_with_default(registry_url: str, scratch: str, tmp_path: Path) -> None:
    path = tmp_path / "v2.avsc"
    field = {"name": "segment", "type": "string", "default": "retail", "doc": "Segment."}
    path.write_text(json.dumps(with_field(V1, field), indent=2))
    result = run(registry_url, "check", str(path), "--subject", scratch)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "compatible (BACKWARD)"


def test_check_new_subject_would_be_version_1(registry_url: str, tmp_path: Path) -> None:
    path = tmp_path / "new.avsc"
    path.write_text(json.dumps(V1))
    result = run(registry_url, "check", str(path), "--subject", f"p2c.test.new-{uuid.uuid4().hex[:8]}-value")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("compatible (BACKWARD)")


def test_register_reports_a_rejected_schema_with_its_reasons(registry_url: str, scratch: str) -> None:
    registry = Registry(RegistrySettings(schema_registry_url=registry_url))
    try:
        bad = with_field(V1, {"name": "segment", "type": "string", "doc": "Segment."})
        outcome = register_one(registry, scratch, json.dumps(bad))
        assert outcome.status == "rejected"
        assert any("segment" in reason for reason in outcome.reasons), outcome.reasons
        again = register_one(registry, scratch, json.dumps(V1))
        assert (again.status, again.version) == ("unchanged", 1)
    finally:
        registry.close()


def test_list_as_a_real_process(registry_url: str) -> None:
    """The installed entry point, not CliRunner: no stray warnings on stderr, the table on stdout."""
    result = subprocess.run(
        [*p2c_command("schemas", "list"), "--schema-registry-url", registry_url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["subject", "version", "id", "compatibility"]
    assert result.stderr == ""
