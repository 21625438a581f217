"""A custom field, as a customer adds one: a Dataverse column with a publisher prefix (``new_loyaltytier``)
and a FinOps extension field (``ContosoLoyaltyTier``), mapped by three data edits in directories of their own:
the CRM accounts' change schema, the ERP customers' write schema, and the accounts template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from p2c import schemas as contracts
from p2c.streams import loader

COLUMN = "new_loyaltytier"
ERP_FIELD = "ContosoLoyaltyTier"


def own_dirs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "templates" / "maps").mkdir(parents=True)
    (tmp_path / "schemas").mkdir()
    return tmp_path / "templates", tmp_path / "schemas"


def with_field(topic: str, record: str, field: dict[str, Any]) -> dict[str, Any]:
    """The shipped schema of ``topic`` with ``field`` added to the record type its field ``record`` defines
    (a change topic's ``before``, whose type ``after`` names too; a write topic's ``record``)."""
    schema: dict[str, Any] = json.loads(contracts.shipped_text(topic) or "")
    top = next(f for f in schema["fields"] if f["name"] == record)
    kinds = top["type"] if isinstance(top["type"], list) else [top["type"]]
    next(k for k in kinds if isinstance(k, dict))["fields"].append(field)
    return schema


def customize_accounts(templates_dir: Path, schemas_dir: Path, *, default: bool = True) -> None:
    """The three data edits of a custom field: the CRM column, the ERP field, the template line."""
    column: dict[str, Any] = {"name": COLUMN, "type": ["null", "string"], "default": None, "doc": "Custom column."}
    target: dict[str, Any] = {"name": ERP_FIELD, "type": ["null", "string"], "default": None, "doc": "Extension."}
    if not default:  # a required field: the shipped data cannot be read with it, the contacts template lacks it
        target = {"name": ERP_FIELD, "type": "string", "doc": "Extension."}
    source = with_field("p2c.src.crm.accounts", "before", column)
    (schemas_dir / "p2c.src.crm.accounts.avsc").write_text(json.dumps(source))
    (schemas_dir / "p2c.tgt.erp.customers.avsc").write_text(
        json.dumps(with_field("p2c.tgt.erp.customers", "record", target))
    )
    text = loader.TEMPLATES.joinpath("accounts.toml").read_text()
    (templates_dir / "accounts.toml").write_text(text + f'{ERP_FIELD} = {{ from = "{COLUMN}" }}\n')
