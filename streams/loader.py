"""Load a flow's template from TOML and check it against the Avro contracts before anything runs.

A template file, ``streams/templates/<flow>.toml``::

    flow = "accounts"
    source = "p2c.src.crm.accounts"          # change topic; its rows are the ``after`` records
    target = "p2c.tgt.erp.customers"         # target topic; its records are the ``record`` records
    source_key = "accountid"                 # the row's key field
    key = ["dataAreaId", "CustomerAccount"]  # target key fields, joined by "|" into the target topic's key
    part = "header"                          # optional: the template fills this record inside the target's
                                             # record (a quotation's "header" or "lines"), not the record
    when = { statecode = 0 }                 # optional routing: the row goes here only if every field matches
                                             # (a list means any of its values)

    [origin]                                 # what a write names as its origin
    system = "crm"
    entity = "accounts"

    [on_delete]                              # fields set on a DELETE write besides the key fields
    OnHoldStatus = "All"

    [fields]                                 # target field = how to fill it (see streams.template)
    dataAreaId = { context = "company" }     # a value of the running worker (--company)
    CustomerAccount = { from = "accountnumber", transforms = ["trim"], required = true }
    PartyType = { const = "Organization" }
    CustomerGroupId = { default = "10" }
    DeliveryAddressCountryRegionISOCode = { from = "address1_country", value_map = "countries", default = "US" }
    Gender = { from = "gendercode", value_map = { 1 = "Male", 2 = "Female" } }

A named ``value_map`` is a shared file ``streams/templates/maps/<name>.toml`` with one ``[entries]`` table.
A customer's templates directory (``P2C_TEMPLATES_DIR``, :mod:`p2c.overrides`) overrides or extends both,
file by file: ``<dir>/<stem>.toml`` and ``<dir>/maps/<name>.toml`` win over the shipped files.
Every check raises ConfigurationError naming the file and the field: a field the source or the target
schema lacks, a type that does not fit, an unknown transform, map or context value.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from p2c import overrides
from p2c.errors import ConfigurationError
from p2c.flows import Flow
from p2c.streams.avro_fields import AvroField, accepts, kind_of_value, source_fields, target_fields
from p2c.streams.template import FieldSpec, Template, Transform, ValueMap

TEMPLATES = resources.files("p2c.streams").joinpath("templates")
MAPS = "maps"
_FIELD_KEYS = {"from", "const", "context", "default", "value_map", "transforms", "required"}
_TOP_KEYS = {"flow", "source", "target", "part", "source_key", "key", "when", "origin", "on_delete", "fields"}


def _read_toml(path: Any, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            doc: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigurationError(f"{what} {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{what} {path} is not valid TOML: {exc}") from exc
    return doc


def in_force(relative: str) -> Any:
    """The file in force for ``relative`` (``accounts.toml``, ``maps/countries.toml``): the customer's when
    their templates directory has it, else the shipped one (which may not exist)."""
    own = overrides.templates_dir()
    if own is not None and (own / relative).is_file():
        return own / relative
    return TEMPLATES.joinpath(*relative.split("/"))


def shared_map(name: str) -> ValueMap:
    """The shared value map ``templates/maps/<name>.toml`` in force."""
    return _shared_map(name, str(in_force(f"{MAPS}/{name}.toml")))


@cache
def _shared_map(name: str, where: str) -> ValueMap:
    path = in_force(f"{MAPS}/{name}.toml")
    if not path.is_file():
        raise ConfigurationError(f"value map {name!r} not found: expected {path}")
    entries = _read_toml(path, "value map").get("entries")
    if not isinstance(entries, dict) or not entries:
        raise ConfigurationError(f"value map {path} needs a non-empty [entries] table")
    return ValueMap.build(name, entries)


def _value_map(spec: Any, where: str) -> ValueMap:
    if isinstance(spec, str):
        return shared_map(spec)
    if isinstance(spec, dict) and spec:
        return ValueMap.build(f"{where} (inline)", spec)
    raise ConfigurationError(f"{where}: value_map must name a shared map or be a non-empty inline table")


class _Checker:
    """Builds FieldSpecs from one template document, checking each against the schemas."""

    def __init__(
        self, origin: str, src: dict[str, AvroField], tgt: dict[str, AvroField], context: Mapping[str, Any]
    ) -> None:
        self.origin, self.src, self.tgt, self.context = origin, src, tgt, context

    def fail(self, target: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"template {self.origin}, field {target}: {problem}")

    def literal(self, target: str, what: str, value: Any) -> None:
        kind = kind_of_value(value)
        if not accepts(self.tgt[target].kind, kind):
            raise self.fail(target, f"{what} {value!r} is {kind}, the target field is {self.tgt[target].kind}")

    def field(self, target: str, doc: Any) -> FieldSpec:
        if target not in self.tgt:
            raise self.fail(target, "the target schema has no field of that name")
        if not isinstance(doc, dict):
            raise self.fail(target, 'expected a table such as { from = "name" }')
        if unknown := set(doc) - _FIELD_KEYS:
            raise self.fail(target, f"unknown keys {sorted(unknown)}; known: {sorted(_FIELD_KEYS)}")
        if len({"from", "const", "context"} & set(doc)) > 1:
            raise self.fail(target, "use one of from, const and context")
        const = doc.get("const")
        if "context" in doc:
            if doc["context"] not in self.context:
                raise self.fail(target, f"unknown context {doc['context']!r}; known: {sorted(self.context)}")
            const = self.context[doc["context"]]
        source = doc.get("from")
        if source is not None and source not in self.src:
            raise self.fail(target, f"source field {source!r}: the source schema has no field of that name")
        transforms = tuple(Transform.parse(t) for t in doc.get("transforms", ()))
        if transforms and (source is None or self.src[source].kind != "string"):
            raise self.fail(target, "transforms apply to a string source field only")
        vmap = _value_map(doc["value_map"], f"{self.origin} {target}") if "value_map" in doc else None
        if vmap is not None:
            if source is None:
                raise self.fail(target, "a value_map needs a source field (from)")
            for value in vmap.entries.values():
                self.literal(target, f"value map {vmap.name!r} entry", value)
        elif source is not None and not accepts(self.tgt[target].kind, self.src[source].kind):
            raise self.fail(
                target,
                f"source field {source!r} is {self.src[source].kind}, the target field is {self.tgt[target].kind}",
            )
        for what in ("const", "default"):
            value = const if what == "const" else doc.get(what)
            if value is not None:
                self.literal(target, what, value)
        required = bool(doc.get("required", False)) or not self.tgt[target].nullable
        return FieldSpec(target, source, const, doc.get("default"), vmap, transforms, required)


def build(doc: dict[str, Any], origin: str, context: Mapping[str, Any]) -> Template:
    """A Template from a parsed template document; ``origin`` names it in errors."""
    if unknown := set(doc) - _TOP_KEYS:
        raise ConfigurationError(f"template {origin}: unknown keys {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    for key in ("flow", "source", "target", "source_key", "key", "fields"):
        if key not in doc:
            raise ConfigurationError(f"template {origin}: missing {key!r}")
    part = (doc["part"],) if "part" in doc else ()
    src, tgt = source_fields(doc["source"]), target_fields(doc["target"], part)
    checker = _Checker(origin, src, tgt, context)
    fields = tuple(checker.field(name, spec) for name, spec in doc["fields"].items())
    named = {f.target for f in fields}
    if doc["source_key"] not in src:
        raise ConfigurationError(f"template {origin}: source_key {doc['source_key']!r} is not a source field")
    for name, accepted in doc.get("when", {}).items():
        if name not in src:
            raise ConfigurationError(f"template {origin}: when {name!r} is not a source field")
        for value in accepted if isinstance(accepted, list) else [accepted]:
            if not accepts(src[name].kind, kind_of_value(value)):
                raise ConfigurationError(
                    f"template {origin}: when {name} = {value!r} is {kind_of_value(value)}, "
                    f"the source field is {src[name].kind}"
                )
    for name in doc["key"]:
        if name not in named:
            raise ConfigurationError(f"template {origin}: key field {name!r} is not filled by [fields]")
    for name, f in tgt.items():
        if not f.nullable and not f.has_default and name not in named:
            raise ConfigurationError(f"template {origin}: target field {name!r} is required; fill it in [fields]")
    for name, value in doc.get("on_delete", {}).items():
        if name not in tgt:
            raise ConfigurationError(f"template {origin}, on_delete {name}: the target schema has no such field")
        checker.literal(name, "on_delete value", value)
    return Template(
        flow=doc["flow"],
        source_topic=doc["source"],
        target_topic=doc["target"],
        source_key=doc["source_key"],
        key=tuple(doc["key"]),
        fields=fields,
        on_delete=dict(doc.get("on_delete", {})),
        origin=dict(doc.get("origin", {})),
        when={k: tuple(v) if isinstance(v, list) else (v,) for k, v in doc.get("when", {}).items()},
    )


def load(flow: str | Path, *, company: str = "usmf") -> Template:
    """Load and check the template ``<flow>.toml`` in force (or a template file by path)."""
    path: Any = Path(flow) if isinstance(flow, Path) or str(flow).endswith(".toml") else in_force(f"{flow}.toml")
    return build(_read_toml(path, "template"), str(path), {"company": company})


def load_declared(flow: Flow, stem: str, *, company: str = "usmf") -> Template:
    """Load and check the template ``<stem>.toml`` in force, and check it against the flow's declaration."""
    template = load(stem, company=company)
    where = f"template {in_force(f'{stem}.toml')} (flow {flow.name})"
    reads = sorted(t.name for t in flow.sources)
    writes = sorted(t.name for t in flow.targets)
    if template.flow != flow.name:
        raise ConfigurationError(f"{where}: flow = {template.flow!r}; it is a template of {flow.name!r} (p2c.flows)")
    if template.source_topic not in reads:
        raise ConfigurationError(f"{where}: source {template.source_topic} is not a topic the flow reads: {reads}")
    if template.target_topic not in writes:
        raise ConfigurationError(f"{where}: target {template.target_topic} is not a topic the flow writes: {writes}")
    return template


def logic_of(flow: Flow) -> type:
    """The class a flow's declaration names as its logic."""
    module, _, name = flow.logic.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"flow {flow.name}: its logic {flow.logic!r} cannot be imported: {exc}") from exc
    if not isinstance(found, type):
        raise ConfigurationError(f"flow {flow.name}: its logic {flow.logic!r} is not a class")
    return found
