"""A record's trace: each stage it went through, with times, versions, what was written and why it waits, was
skipped, changed or dead-lettered. Read from the flow's topics by key, bounded in time (control/scan.py):

source   its change events on the flow's source topics: the key is the record's id, or a value of its row
         (``p2c trace accounts ACC-01000-BVRCPS`` finds the account by its number)
streams  the writes on the flow's target topics whose origin is the record, each with what the template changed
         on the way (a value truncated, a blank one defaulted); a change with no write says why (mapping flows:
         the flow's own logic worked out again)
sink     whether the sink's consumer group has handled the write (committed past it)
waiting  a joining flow's state for the record (its table's changelog): what it waits on, and, for each
         dependency, the dead letter that keeps it from coming
letters  the flow's dead letters of the record or its writes, with their state
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from p2c.control.deadletters import DeadLetters
from p2c.control.lifecycle import OPEN, Entry
from p2c.control.scan import Progress, Scan, messages
from p2c.flows import MAPPING, STREAMS_GROUP, Flow, by_name, flow_of_source, sink_group, topic
from p2c.offsets import committed_offsets
from p2c.serde import Codecs, decode_key
from p2c.settings import KafkaSettings
from p2c.streams.join import codec
from p2c.streams.join.specs import SPECS
from p2c.streams.template import Template, blank

BUDGET_S = 20.0


@dataclass
class Trace:
    flow: str
    key: str
    ids: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    waiting: dict[str, Any] | None = None
    letters: list[dict[str, Any]] = field(default_factory=list)
    scan: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.steps or self.letters)

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "key": self.key,
            "ids": self.ids,
            "found": self.found,
            "steps": self.steps,
            "waiting": self.waiting,
            "dead_letters": self.letters,
            "scan": self.scan,
        }


def iso(ms: int | float | None) -> str | None:
    return None if not ms else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _row_matches(change: dict[str, Any], key: str) -> bool:
    rows = (change.get("after") or {}, change.get("before") or {})
    return any(str(v) == key for row in rows for v in row.values() if isinstance(v, str | int))


def _version(change: dict[str, Any]) -> int:
    return int((change.get("source") or {}).get("version", -1))


def trace(
    kafka: KafkaSettings,
    codecs: Codecs,
    flow_name: str,
    key: str,
    templates: dict[str, Template],
    progress: Progress | None = None,
    budget_s: float = BUDGET_S,
) -> Trace:
    """The trace of the record ``key`` (its id or a value of its row) in ``flow_name``; KeyError: no such flow."""
    flow = by_name(flow_name)
    scan = Scan.within(budget_s)
    result = Trace(flow.name, key)
    changes = _source_events(kafka, codecs, flow, key, scan, progress)
    ids = sorted({c["id"] for c in changes} or {key})
    result.ids = ids
    writes = _writes(kafka, codecs, flow, ids, scan, progress)
    letters = [
        e for e in DeadLetters(kafka).entries([flow.name]) if e.key in ids or e.key in {w["key"] for w in writes}
    ]
    _handled_by_sinks(kafka, writes)
    for w in writes:
        source = _source_of(changes, w["version"])
        template = templates.get(w["topic"])
        if source is not None and template is not None:
            w["changed"] = changed(template, source["row"], w["record"])
    for c in changes:
        if not any(w["version"] >= c["version"] for w in writes) and not any(c["at"] == e.origin for e in letters):
            c["why"] = _why_no_write(flow, templates, c)
    result.steps = sorted([*changes, *writes], key=lambda s: (s["time_ms"] or 0, s["stage"] != "source"))
    for step in result.steps:
        step["time"] = iso(step["time_ms"])
        step.pop("row", None)
        step["dead_letter"] = next((e.id for e in letters if e.origin == step["at"]), None)
    result.letters = [_letter(e) for e in letters]
    if flow.joins:
        result.waiting = waiting(kafka, flow, ids, scan, progress)
    result.scan = {"records_read": scan.read, "complete": scan.complete, "budget_s": budget_s}
    return result


def _source_events(
    kafka: KafkaSettings, codecs: Codecs, flow: Flow, key: str, scan: Scan, progress: Progress | None
) -> list[dict[str, Any]]:
    found = []
    for t in flow.sources:
        for msg in messages(kafka, t.name, scan, progress):
            msg_key = decode_key(msg.key())
            value = msg.value()
            if value is None:
                continue
            if msg_key != key:
                change = codecs[t.name].deserialize(value, key=msg_key)
                if not _row_matches(change, key):
                    continue
            else:
                change = codecs[t.name].deserialize(value, key=msg_key)
            found.append(
                {
                    "stage": "source",
                    "topic": t.name,
                    "at": f"{t.name}[{msg.partition()}]@{msg.offset()}",
                    "id": msg_key,
                    "op": {"c": "create", "u": "update", "d": "delete", "r": "read (full load)"}.get(
                        change.get("op", ""), change.get("op")
                    ),
                    "version": _version(change),
                    "time_ms": msg.timestamp()[1],
                    "row": change.get("after") or change.get("before") or {},
                }
            )
    return found


def _writes(
    kafka: KafkaSettings, codecs: Codecs, flow: Flow, ids: list[str], scan: Scan, progress: Progress | None
) -> list[dict[str, Any]]:
    wanted = set(ids)
    found = []
    for t in flow.targets:
        for msg in messages(kafka, t.name, scan, progress):
            value = msg.value()
            if value is None:
                continue
            write = codecs[t.name].deserialize(value, key=decode_key(msg.key()))
            origin = write.get("origin") or {}
            if str(origin.get("id")) not in wanted:
                continue
            found.append(
                {
                    "stage": "streams",
                    "topic": t.name,
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "at": f"{t.name}[{msg.partition()}]@{msg.offset()}",
                    "key": decode_key(msg.key()),
                    "op": write.get("op"),
                    "version": int(origin.get("version", -1)),
                    "time_ms": msg.timestamp()[1],
                    "record": write.get("record"),
                    "cleared": write.get("cleared") or [],
                }
            )
    return found


def _handled_by_sinks(kafka: KafkaSettings, writes: list[dict[str, Any]]) -> None:
    """Each write's ``sink``: handled (its sink group committed past it) or not yet (or held back)."""
    for w in writes:
        group = sink_group(topic(w["topic"]))
        tp = (w["topic"], w["partition"])
        committed = committed_offsets(kafka, group, [tp]).get(tp, -1)
        w["sink"] = (
            f"handled by {group}"
            if committed > w["offset"]
            else f"not handled yet by {group}: in its queue, or held back until a dependency exists in the target"
        )


def _source_of(changes: list[dict[str, Any]], version: int) -> dict[str, Any] | None:
    earlier = [c for c in changes if 0 <= c["version"] <= version]
    return max(earlier, key=lambda c: c["version"]) if earlier else None


def changed(template: Template, row: dict[str, Any], record: Any) -> list[str]:
    """What the template changed on the way: values truncated, blank values defaulted (never silent)."""
    if not isinstance(record, dict) or "header" in record:
        record = (record or {}).get("header") if isinstance(record, dict) else None
    if not isinstance(record, dict):
        return []
    notes = []
    for spec in template.fields:
        if spec.const is not None or not spec.source:
            continue
        given, written = row.get(spec.source), record.get(spec.target)
        if blank(given) and spec.default is not None and written == spec.default:
            notes.append(f"{spec.target} defaulted to {written!r} ({spec.source} is blank)")
            continue
        cuts = [t for t in spec.transforms if t.spec.startswith("truncate")]
        if cuts and isinstance(given, str) and isinstance(written, str):
            full = given
            for t in spec.transforms:
                if t not in cuts:
                    full = t.fn(full)
            if len(full) > len(written):
                notes.append(
                    f"{spec.target} truncated from {len(full)} to {len(written)} characters "
                    f"({spec.source}, {cuts[0].spec} in the template)"
                )
    return notes


def _why_no_write(flow: Flow, templates: dict[str, Template], change: dict[str, Any]) -> str:
    if flow.logic != MAPPING:
        return "no write of its own: see what the record waits on, or the write of a later change"
    row = change["row"]
    for template in templates.values():
        if template.flow == flow.name and not all(row.get(f) in allowed for f, allowed in template.when.items()):
            return f"skipped: not routed to {flow.name} (the template's routing rule)"
    return "no write for this version: a version already handled, or a later change was written instead"


def waiting(
    kafka: KafkaSettings, flow: Flow, ids: Iterable[str], scan: Scan, progress: Progress | None
) -> dict[str, Any] | None:
    """What the record waits on, from its state in the flow's table, with each dependency's open dead letter."""
    wanted = {i.encode() for i in ids}
    state: dict[str, Any] | None = None
    for msg in messages(kafka, f"{STREAMS_GROUP}-{flow.name}-state-changelog", scan, progress):
        if msg.key() in wanted:
            state = codec.loads(msg.value()) if msg.value() is not None else None
    if not state or not state.get("waiting_on"):
        return None
    deps = []
    for join, dep_ids in (state.get("follows") or {}).items():
        dep_flow = next((flow_of_source(t) for t, spec in SPECS.items() if spec.name == join), join)
        open_letters = {e.key: e for e in DeadLetters(kafka).entries([dep_flow], [OPEN])}
        for dep in dep_ids:
            letter = open_letters.get(dep)
            deps.append(
                {
                    "join": join,
                    "key": dep,
                    "dead_letter": None if letter is None else _letter(letter),
                }
            )
    return {"waiting_on": state["waiting_on"], "events": int(state.get("pending", 0)), "dependencies": deps}


def _letter(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "flow": e.flow,
        "key": e.key,
        "stage": e.stage,
        "state": e.state,
        "reason": e.reason,
        "time": e.time,
    }


def templates_of(flow_name: str) -> dict[str, Template]:
    """The flow's templates in force, by target topic (the first for a topic two share: quotes' header)."""
    from p2c.streams.loader import load  # the templates in force, loaded only when a trace needs them

    found: dict[str, Template] = {}
    for stem in by_name(flow_name).templates:
        template = load(stem)
        found.setdefault(template.target_topic, template)
    return found
