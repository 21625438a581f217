"""A customer's own templates and schemas: they override or extend the shipped ones file by file, are found
through an option, the environment or the config file, and ``p2c templates check|diff`` judge them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from p2c import overrides
from p2c import schemas as contracts
from p2c.errors import ConfigurationError
from p2c.streams import loader
from p2c.streams.templates_cli import templates
from p2c.up import Plan
from tests.support.custom_field import customize_accounts, own_dirs

SHIPPED = loader.TEMPLATES


def test_without_a_directory_the_shipped_files_are_in_force() -> None:
    assert overrides.current() == overrides.OverrideSettings()
    assert loader.in_force("accounts.toml") == SHIPPED / "accounts.toml"
    assert contracts.location("p2c.src.crm.accounts") == "schemas/p2c.src.crm.accounts.avsc"


def test_a_file_of_the_customer_wins_over_the_shipped_one_and_others_stay_shipped(tmp_path: Path) -> None:
    templates_dir, schemas_dir = own_dirs(tmp_path)
    customize_accounts(templates_dir, schemas_dir)
    (templates_dir / "maps" / "countries.toml").write_text('[entries]\n"Atlantis" = "AT"\n')
    overrides.configure(templates_dir=templates_dir, schemas_dir=schemas_dir)
    template = loader.load("accounts")
    assert template.field_spec("ContosoLoyaltyTier").source == "new_loyaltytier"
    assert loader.shared_map("countries").lookup("Atlantis") == "AT"
    assert loader.in_force("products.toml") == SHIPPED / "products.toml"
    assert "new_loyaltytier" in contracts.text("p2c.src.crm.accounts")
    assert contracts.load("p2c.src.erp.releasedproducts") == json.loads(
        contracts.shipped_text("p2c.src.erp.releasedproducts") or ""
    )
    overrides.reset()
    assert "ContosoLoyaltyTier" not in {f.target for f in loader.load("accounts").fields}


def test_a_new_value_map_extends_the_shipped_ones(tmp_path: Path) -> None:
    templates_dir, _ = own_dirs(tmp_path)
    (templates_dir / "maps" / "tiers.toml").write_text('[entries]\ngold = "G"\n')
    overrides.configure(templates_dir=templates_dir)
    assert loader.shared_map("tiers").name == "tiers"
    assert loader.shared_map("units").entries  # the shipped ones are still there


def test_the_directories_come_from_the_environment_or_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates_dir, schemas_dir = own_dirs(tmp_path)
    monkeypatch.setenv("P2C_TEMPLATES_DIR", str(templates_dir))
    assert overrides.configure().templates_dir == templates_dir.resolve()
    monkeypatch.delenv("P2C_TEMPLATES_DIR")
    config = tmp_path / "p2c.toml"
    config.write_text('[mappings]\ntemplates_dir = "templates"\nschemas_dir = "schemas"\n')  # relative to the file
    settings = overrides.configure(config)
    assert (settings.templates_dir, settings.schemas_dir) == (templates_dir.resolve(), schemas_dir.resolve())
    assert settings.environment() == {"P2C_TEMPLATES_DIR": str(templates_dir), "P2C_SCHEMAS_DIR": str(schemas_dir)}


def test_a_directory_that_does_not_exist_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"templates_dir .*nope is not a directory.*P2C_TEMPLATES_DIR"):
        overrides.configure(templates_dir=tmp_path / "nope")


def test_p2c_up_hands_the_directories_to_its_children(tmp_path: Path) -> None:
    templates_dir, schemas_dir = own_dirs(tmp_path)
    custom = overrides.configure(templates_dir=templates_dir, schemas_dir=schemas_dir)
    plan = Plan(tmp_path, 1, 2, 3, 4, None, None, "usmf", 5, custom)
    assert plan.process("streams", "streams", "worker").env == plan.env()
    assert plan.env()["P2C_TEMPLATES_DIR"] == str(templates_dir.resolve())
    assert plan.env()["P2C_SCHEMAS_DIR"] == str(schemas_dir.resolve())


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(templates, ["check", "--no-registry", *args])
    return result.exit_code, result.output


def test_check_passes_the_three_edits_of_a_custom_field(tmp_path: Path) -> None:
    templates_dir, schemas_dir = own_dirs(tmp_path)
    customize_accounts(templates_dir, schemas_dir)
    code, output = check("--templates-dir", str(templates_dir), "--schemas-dir", str(schemas_dir))
    assert code == 0, output
    assert "1 templates and 0 value maps" in output and "2 schemas" in output and output.rstrip().endswith("flows")


def test_check_names_the_file_and_the_field_of_every_problem(tmp_path: Path) -> None:
    templates_dir, schemas_dir = own_dirs(tmp_path)
    customize_accounts(templates_dir, schemas_dir, default=False)  # a new ERP field, required
    with (templates_dir / "accounts.toml").open("a") as fh:
        fh.write('Nonsense = { from = "name" }\n')
    (templates_dir / "acounts.toml").write_text('flow = "accounts"\n')  # misspelt: no flow uses it
    (schemas_dir / "p2c.src.crm.acounts.avsc").write_text("{}")
    (templates_dir / "maps" / "tiers.toml").write_text("[entries]\n")
    code, output = check("--templates-dir", str(templates_dir), "--schemas-dir", str(schemas_dir))
    assert code == 1
    lines = [line for line in output.splitlines() if line.startswith("  - ")]
    assert any("accounts.toml, field Nonsense: the target schema has no field" in line for line in lines), output
    assert any(
        "p2c.tgt.erp.customers.avsc: cannot read what the shipped schema wrote: record.Customer.ContosoLoyaltyTier"
        in line
        for line in lines
    ), output
    # the shipped contacts template writes customers too: a required field it does not fill breaks it
    assert any("contacts-customers.toml: target field 'ContosoLoyaltyTier' is required" in line for line in lines)
    assert any("acounts.toml: not a template of any flow" in line for line in lines)
    assert any("p2c.src.crm.acounts.avsc: no flow uses a topic" in line for line in lines)
    assert any("tiers.toml needs a non-empty [entries] table" in line for line in lines)
    assert "6 problem(s)" in output


def test_check_refuses_a_directory_that_does_not_exist_with_a_usage_error(tmp_path: Path) -> None:
    code, output = check("--schemas-dir", str(tmp_path / "nope"))
    assert code == 2 and "schemas_dir" in output and "is not a directory" in output


def test_diff_shows_what_each_file_changes(tmp_path: Path) -> None:
    templates_dir, schemas_dir = own_dirs(tmp_path)
    customize_accounts(templates_dir, schemas_dir)
    (templates_dir / "maps" / "tiers.toml").write_text('[entries]\ngold = "G"\n')
    (templates_dir / "products.toml").write_text((SHIPPED / "products.toml").read_text())
    args = ["diff", "--templates-dir", str(templates_dir), "--schemas-dir", str(schemas_dir)]
    result = CliRunner().invoke(templates, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "template accounts.toml: " in out and "(overrides the shipped one)" in out
    assert 'added    fields.ContosoLoyaltyTier  {"from": "new_loyaltytier"}' in out
    assert "template products.toml: " in out and "overrides the shipped one, and is the same" in out
    assert "value map tiers: " in out and "(new, extends the shipped ones)" in out and "entries.gold" in out
    assert "after.Account.new_loyaltytier" in out and "record.Customer.ContosoLoyaltyTier" in out
