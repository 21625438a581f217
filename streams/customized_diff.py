"""What a customer's templates, value maps and schemas change, compared with the shipped ones.

A template or a value map is compared key by key (a template's ``[fields]`` entry is one key:
``fields.CustomerGroupId``); a schema field by field, with the schemas' own diff (``p2c.schemas_diff``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p2c import schemas as contracts
from p2c.schemas_diff import diff as schema_diff
from p2c.schemas_diff import parse
from p2c.streams import loader
from p2c.streams.customized import own_maps, own_templates

#: a template's tables whose entries are compared whole (a field's spec is one value)
WHOLE_ENTRIES = ("fields",)


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, changed
    path: str
    detail: str


@dataclass
class FileDiff:
    what: str  # "template accounts.toml", "value map countries", "schema p2c.src.crm.accounts"
    path: Path
    new: bool  # no shipped counterpart: the customer's file extends
    changes: list[Change] = field(default_factory=list)

    def heading(self) -> str:
        how = "new, extends the shipped ones" if self.new else "overrides the shipped one"
        if not self.new and not self.changes:
            how = "overrides the shipped one, and is the same"
        return f"{self.what}: {self.path} ({how})"


def _flat(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and prefix.rstrip(".") not in WHOLE_ENTRIES:
            out.update(_flat(value, f"{path}."))
        else:
            out[path] = value
    return out


def _show(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def doc_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Keys added, removed and changed from ``old`` to ``new`` (TOML documents), in the new file's order."""
    before, after = _flat(old), _flat(new)
    changes = [Change("added", k, _show(v)) for k, v in after.items() if k not in before]
    changes += [Change("removed", k, _show(v)) for k, v in before.items() if k not in after]
    changes += [
        Change("changed", k, f"{_show(before[k])} -> {_show(v)}")
        for k, v in after.items()
        if k in before and before[k] != v
    ]
    return changes


def _toml(path: Any) -> dict[str, Any]:
    with path.open("rb") as fh:
        doc: dict[str, Any] = tomllib.load(fh)
    return doc


def _toml_diff(what: str, path: Path, shipped: Any) -> FileDiff:
    if not shipped.is_file():
        return FileDiff(what, path, True, doc_changes({}, _toml(path)))
    return FileDiff(what, path, False, doc_changes(_toml(shipped), _toml(path)))


def file_diffs() -> Iterator[FileDiff]:
    """One FileDiff per file of the customer's: templates, value maps, then schemas."""
    for path in own_templates():
        yield _toml_diff(f"template {path.name}", path, loader.TEMPLATES.joinpath(path.name))
    for path in own_maps():
        yield _toml_diff(f"value map {path.stem}", path, loader.TEMPLATES.joinpath(loader.MAPS, path.name))
    for topic, path in contracts.overriding().items():
        shipped = contracts.shipped_text(topic)
        old = parse(shipped) if shipped is not None else parse({"type": "record", "name": "none", "fields": []})
        changes = [Change(c.kind, c.path, c.detail) for c in schema_diff(old, parse(path.read_text("utf-8")))]
        yield FileDiff(f"schema {topic}", path, shipped is None, changes)
