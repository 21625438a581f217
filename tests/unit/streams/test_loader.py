"""Template loading: every mistake is a ConfigurationError naming the field, before the worker starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2c.errors import ConfigurationError
from p2c.streams import loader

HEADER = """
flow = "accounts"
source = "p2c.src.crm.accounts"
target = "p2c.tgt.erp.customers"
source_key = "accountid"
key = ["dataAreaId", "CustomerAccount"]
"""
FIELDS = """
[fields]
dataAreaId = { context = "company" }
CustomerAccount = { from = "accountnumber", required = true }
"""


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "flow.toml"
    path.write_text(header + body)
    return path


def load_error(tmp_path: Path, body: str, header: str = HEADER) -> str:
    with pytest.raises(ConfigurationError) as caught:
        loader.load(write(tmp_path, body, header))
    return str(caught.value)


def test_the_shipped_accounts_template_loads() -> None:
    template = loader.load("accounts")
    assert template.key == ("dataAreaId", "CustomerAccount")
    assert template.on_delete == {"OnHoldStatus": "All"}
    assert template.field_spec("CustomerAccount").required


def test_a_minimal_template_loads_and_non_nullable_target_fields_are_required(tmp_path: Path) -> None:
    template = loader.load(write(tmp_path, FIELDS), company="usrt")
    assert template.field_spec("dataAreaId").const == "usrt"
    assert template.field_spec("dataAreaId").required


def test_unknown_target_field_is_rejected_by_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, FIELDS + 'CustomerNickname = { from = "name" }\n')
    assert "CustomerNickname" in message and "target schema" in message


def test_unknown_source_field_is_rejected_by_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, FIELDS + 'OrganizationName = { from = "account_name" }\n')
    assert "account_name" in message and "OrganizationName" in message and "source schema" in message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('CreditLimit = { from = "name" }', ["CreditLimit", "string", "decimal"]),
        ("OrganizationName = { const = 5 }", ["OrganizationName", "int"]),
        ("CustomerGroupId = { default = true }", ["CustomerGroupId", "boolean"]),
        ('CreditLimit = { from = "creditlimit", transforms = ["trim"] }', ["CreditLimit", "string source"]),
        ('SalesMemo = { from = "description", transforms = ["shout"] }', ["shout"]),
        ('SalesMemo = { from = "description", value_map = "planets" }', ["planets"]),
        ('SalesMemo = { from = "description", value_map = { a = 1 } }', ["SalesMemo", "int"]),
        ('SalesMemo = { value_map = "countries" }', ["SalesMemo", "from"]),
        ('SalesMemo = { from = "description", const = "x" }', ["SalesMemo", "one of"]),
        ('SalesMemo = { context = "tenant" }', ["tenant"]),
        ('SalesMemo = { form = "description" }', ["SalesMemo", "form"]),
    ],
)
def test_bad_field_specs_name_the_field(tmp_path: Path, line: str, words: list[str]) -> None:
    message = load_error(tmp_path, FIELDS + line + "\n")
    for word in words:
        assert word in message


def test_a_required_target_field_left_unfilled_is_rejected(tmp_path: Path) -> None:
    body = '[fields]\nCustomerAccount = { from = "accountnumber" }\n'
    assert "dataAreaId" in load_error(tmp_path, body, HEADER.replace('"dataAreaId", ', ""))


def test_key_fields_must_be_filled(tmp_path: Path) -> None:
    header = HEADER.replace('"CustomerAccount"]', '"CustomerAccount", "PartyType"]')
    assert "PartyType" in load_error(tmp_path, FIELDS, header)


def test_on_delete_and_when_and_source_key_are_checked(tmp_path: Path) -> None:
    assert "Blocked" in load_error(tmp_path, FIELDS + '[on_delete]\nBlocked = "Yes"\n')
    assert "isactive" in load_error(tmp_path, FIELDS, HEADER + "when = { isactive = true }\n")
    assert "acctid" in load_error(tmp_path, FIELDS, HEADER.replace('"accountid"', '"acctid"'))


def test_unknown_schema_or_bad_toml_or_missing_file(tmp_path: Path) -> None:
    unknown_source = HEADER.replace('"p2c.src.crm.accounts"', '"p2c.src.crm.nothing"')
    assert "p2c.src.crm.nothing" in load_error(tmp_path, FIELDS, unknown_source)
    assert "not valid TOML" in load_error(tmp_path, "[fields\n")
    with pytest.raises(ConfigurationError, match="not found"):
        loader.load(tmp_path / "missing.toml")
    with pytest.raises(ConfigurationError, match="missing 'key'"):
        loader.load(write(tmp_path, FIELDS, HEADER.replace('key = ["dataAreaId", "CustomerAccount"]', "")))
