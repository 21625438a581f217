"""What a customer's templates and schemas directories hold, and whether it fits, before anything runs.

:func:`problems` checks, without a registry:

* every schema of the customer's parses as Avro, and one that overrides a shipped schema can still read
  what was written with the shipped one (BACKWARD, as the registry will require: a new field needs a
  default); a schema for a topic no flow uses is refused (a misspelt file name would otherwise be ignored);
* every template of every flow (``p2c.flows``), the customer's or the shipped one, against the schemas in
  force and the flow's declaration; a template file of the customer's that no flow uses is refused;
* every value map of the customer's parses.

:func:`registry_problems` asks the registry whether it would take each of the customer's schemas as the next
version of its subject. Every problem names the file, and the field where there is one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from p2c import flows, overrides
from p2c import schemas as contracts
from p2c.errors import ConfigurationError
from p2c.schemas_diff import InvalidSchema, Parsed, parse, read_problems
from p2c.streams import loader
from p2c.topics import Topic

if TYPE_CHECKING:
    from p2c.schemas_cli import Registry

TEMPLATE_SUFFIX = ".toml"


@dataclass(frozen=True)
class Problem:
    file: str
    what: str

    def __str__(self) -> str:
        return self.what if self.file in self.what else f"{self.file}: {self.what}"


def own_templates() -> list[Path]:
    folder = overrides.templates_dir()
    return sorted(folder.glob(f"*{TEMPLATE_SUFFIX}")) if folder is not None else []


def own_maps() -> list[Path]:
    folder = overrides.templates_dir()
    return sorted((folder / loader.MAPS).glob(f"*{TEMPLATE_SUFFIX}")) if folder is not None else []


def declared_stems() -> list[str]:
    return [stem for flow in flows.FLOWS for stem in flow.templates]


def parsed_schema(topic: str, text: str, where: str) -> Parsed | Problem:
    try:
        return parse(text)
    except (InvalidSchema, json.JSONDecodeError) as exc:
        return Problem(where, f"not a valid Avro schema: {exc}")


def schema_problems() -> list[Problem]:
    used = {t.name for t in (*flows.SOURCE_TOPICS, *flows.TARGET_TOPICS)}
    found: list[Problem] = []
    for topic, path in contracts.overriding().items():
        if topic not in used:
            found.append(Problem(str(path), f"no flow uses a topic {topic!r}; the topics are {sorted(used)}"))
            continue
        own = parsed_schema(topic, path.read_text(encoding="utf-8"), str(path))
        if isinstance(own, Problem):
            found.append(own)
            continue
        shipped_text = contracts.shipped_text(topic)
        shipped = parsed_schema(topic, shipped_text, topic) if shipped_text is not None else None
        if isinstance(shipped, Parsed):
            found += [
                Problem(str(path), f"cannot read what the shipped schema wrote: {reason}")
                for reason in read_problems(own, shipped)
            ]
    return found


def template_problems(company: str = "usmf") -> list[Problem]:
    found: list[Problem] = []
    for flow in flows.FLOWS:
        for stem in flow.templates:
            try:
                loader.load_declared(flow, stem, company=company)
            except (ConfigurationError, KeyError) as exc:
                found.append(Problem(str(loader.in_force(f"{stem}{TEMPLATE_SUFFIX}")), str(exc)))
    stems = declared_stems()
    for path in own_templates():
        if path.stem not in stems:
            found.append(Problem(str(path), f"not a template of any flow; the flows' templates are {stems}"))
    for path in own_maps():
        try:
            loader.shared_map(path.stem)
        except ConfigurationError as exc:
            found.append(Problem(str(path), str(exc)))
    return found


def problems(company: str = "usmf") -> list[Problem]:
    """Everything wrong with the customer's files, checked against the contracts and the declarations."""
    return schema_problems() + template_problems(company)


def registry_problems(registry: Registry) -> list[Problem]:
    """The customer's schemas the registry would refuse as the next version of their subjects: why, field by
    field (worked out here under the subject's compatibility level), else in the registry's words."""
    from p2c.schemas_cli import local_reasons

    found: list[Problem] = []
    for topic, path in contracts.overriding().items():
        subject = Topic(topic).subject
        compatible, reasons = registry.incompatibilities(subject, json.dumps(contracts.load(topic)))
        if not compatible:
            level, _ = registry.compatibility_level(subject)
            local = local_reasons(registry, subject, parse(contracts.load(topic)), level)
            why = "; ".join(local or reasons) or "the registry gave no reason"
            found.append(Problem(str(path), f"the registry refuses it for {subject} ({level}): {why}"))
    return found
