"""Contacts -> person customers or contact persons: routing and the parent-account join, pure.

Routing (§1.2, §5), each rule the ``when`` of a template, the customers' first:

* ``contacts-customers`` (``msdynce_isactivecustomer`` true) -> an UPSERT of a CustomersV3 person customer;
* else ``contacts-contactpersons`` (``parentcustomerid_type`` account) -> an UPSERT of a CDSContactPersonsV2
  contact person of the parent account's customer. The contact carries the account's id; the number comes
  from the ``accounts`` join (:mod:`streams.join`): until it is known the contact is parked (waiting on
  ``account``) and it goes when the answer arrives. The template maps ``AssociatedContactNumber`` from
  ``_parentcustomerid_value``, which holds the resolved account number by then;
* else nothing: ``skipped``.

The state of a contact (keyed by ``contactid``) remembers its last change, the target and key it was last
written to (``known``), the account it follows and the answer held. A contact that changes route leaves
the target it was written to: a DELETE there (a person customer is blocked, ``OnHoldStatus = All``; a
contact person is deleted) before the UPSERT on the other. A deleted contact is deleted where it was
written. A write caused by an answer carries the newer of the contact's and the account's versions (one
org-wide counter in Dataverse), raised above the contact's last emission (:mod:`streams.emission`), so the
sink takes it; an answer that changes nothing writes nothing. A change or answer at or before the one the
state holds (a replay) re-sends the last emission. A deleted contact stays as a tombstone state.
"""

from __future__ import annotations

from typing import Any

from p2c.errors import RecordError
from p2c.streams import emission
from p2c.streams.flow import DELETE, MappingFlow, Write
from p2c.streams.join import codec
from p2c.streams.join.core import Answer, State, Step, accept, follows, is_replay, keep_followed, replay, value_of
from p2c.streams.join.specs import ACCOUNTS
from p2c.streams.template import Template, apply, matches, target_key, upsert

PARENT = "_parentcustomerid_value"


class ContactsFlow:
    """The contacts flow's pure logic over its two templates."""

    def __init__(self, customers: Template, persons: Template) -> None:
        self.name = customers.flow
        self.customers, self.persons = MappingFlow(customers), MappingFlow(persons)
        self.by_topic = {customers.target_topic: self.customers, persons.target_topic: self.persons}
        self.source_topics: tuple[str, ...] = (customers.source_topic,)
        self.target_topics: tuple[str, ...] = (customers.target_topic, persons.target_topic)
        self.answers_here = True  # a contact is one row: it is whole when its change comes

    def on_change(self, topic: str, state: State | None, change: dict[str, Any], key: str | None) -> Step:
        source_id = self.customers.source_id(change, key)
        held = state or {}
        version = int(change["source"]["version"])
        if version <= held.get("seen", -1):
            return replay(held, resubscribe=True)
        if change["op"] == "d":
            return self._deleted(held, change, source_id)
        if change.get("after") is None:
            raise RecordError(f"a {change['op']!r} change without 'after'", record_key=source_id)
        last = {"op": change["op"], "after": change["after"], "source": change["source"]}
        return self._route({**held, "change": last, "id": source_id, "seen": version}, from_answer=False)

    def on_answer(self, state: State | None, answer: Answer) -> Step:
        if state is not None and is_replay(state.get("resolved", {}), follows(state), answer):
            return replay(state, resubscribe=False)
        if state is None or not accept(state.get("resolved", {}), follows(state), answer):
            return Step(state, waiting_on=(state or {}).get("waiting_on"))
        resolved = {**state.get("resolved", {})}
        resolved[answer.join] = {**resolved.get(answer.join, {}), answer.dep: answer.current.as_json()}
        return self._route({**state, "resolved": resolved}, from_answer=True)

    def _deleted(self, held: State, change: dict[str, Any], source_id: str) -> Step:
        """A deleted contact leaves its target; its state stays as a tombstone (``seen``), so a replay re-sends."""
        known = held.get("known")
        version = int(change["source"]["version"])
        tombstone = {k: held[k] for k in ("emitted", "sent") if k in held} | {"id": source_id, "seen": version}
        if known is None:
            if held:
                return Step(tombstone, skipped="deleted, never written")
            raise RecordError("delete of a contact never seen: where it was written is unknown", record_key=source_id)
        origin = self.customers.origin(change, source_id)
        state, writes = emission.emit(tombstone, [self._delete(known, origin)], version)
        return Step(state, writes)

    def _delete(self, known: dict[str, Any], origin: dict[str, Any]) -> tuple[str, Write]:
        flow = self.by_topic[known["topic"]]
        record = {**known["key"], **flow.template.on_delete}
        return known["topic"], Write(
            target_key(flow.template, record), {"op": DELETE, "record": record, "origin": origin}
        )

    def _route(self, state: State, *, from_answer: bool) -> Step:
        change, source_id = state["change"], state["id"]
        row = change["after"]
        origin = self.customers.origin(change, source_id)
        if matches(self.customers.template, row):
            return self._write(state, self.customers, row, origin, {}, from_answer)
        if matches(self.persons.template, row) and row.get(PARENT):
            needs = {ACCOUNTS.name: [str(row[PARENT])]}
            state = {**state, "follows": needs, "resolved": keep_followed(state.get("resolved", {}), needs)}
            account = value_of(state["resolved"], ACCOUNTS.name, str(row[PARENT]))
            number = None if account is None or account.value is None else account.value.get("number")
            if not number:
                return self._leave(state, origin, self.persons, waiting_on={"account": 1})
            origin = {**origin, "version": max(origin["version"], account.version if account else 0)}
            return self._write(state, self.persons, {**row, PARENT: number}, origin, needs, from_answer)
        return self._leave({**state, "follows": {}, "resolved": {}}, origin, None, skipped="not routed")

    def _leave(
        self,
        state: State,
        origin: dict[str, Any],
        staying: MappingFlow | None,
        *,
        waiting_on: dict[str, int] | None = None,
        skipped: str | None = None,
    ) -> Step:
        """No write to ``staying``: delete what was written elsewhere (or anywhere, when None)."""
        known = state.get("known")
        if known is not None and (staying is None or known["topic"] != staying.template.target_topic):
            state, writes = emission.emit({**state, "known": None}, [self._delete(known, origin)], origin["version"])
            return Step(state, writes, waiting_on=waiting_on)
        return Step(state, waiting_on=waiting_on, skipped=skipped)

    def _write(
        self,
        state: State,
        flow: MappingFlow,
        row: dict[str, Any],
        origin: dict[str, Any],
        needs: dict[str, list[str]],
        from_answer: bool,
    ) -> Step:
        topic = flow.template.target_topic
        record = apply(flow.template, row)
        key_fields = flow.key_fields(record)
        if from_answer and codec.dumps(record) == codec.dumps(emission.last_record(state, topic)):
            return Step(state)  # the answer changed nothing that is written
        writes = []
        known = state.get("known")
        if known is not None and (known["topic"] != topic or known["key"] != key_fields):
            writes.append(self._delete(known, origin))
        writes.append((topic, Write(target_key(flow.template, record), upsert(flow.template, record, origin))))
        if not needs:
            state = {**state, "follows": {}, "resolved": {}}
        state, stamped = emission.emit(
            {**state, "known": {"topic": topic, "key": key_fields}}, writes, origin["version"]
        )
        return Step(state, stamped)
