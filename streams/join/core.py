"""Foreign-key joins on tables (the KIP-213 subscription pattern), as pure functions over plain values.

A *requester* (a contact, a quote) is partitioned by its own key and needs a value keyed by another id,
its *dependency* (an account's number by account id, a product's number by product id). The requester
sends a :class:`Subscription` to the dependency's subscription topic, keyed by the dependency id and so
co-partitioned with the dependency's change topic. The *provider* that owns that partition keeps two
tables keyed by the dependency id: its current :class:`Versioned` value and its subscribers. It answers a
new subscriber at once when it knows the value, and every subscriber whenever the value changes. Answers
go to the requester's answer topic keyed by the requester key, so they reach the partition (and the
worker) that holds the requester's state, which re-examines the parked record. Nothing polls. A requester
on the worker that owns the dependency's partition reads the value there instead of waiting for the answer,
and names the version it holds in its subscription (:attr:`Subscription.known`).

Order and duplicates: every value carries the dependency's source version; the provider keeps the newest
and a requester never lets an older answer replace a newer one (:func:`accept`). Subscribing twice is
harmless; answers are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from p2c.streams import emission
from p2c.streams.emission import Write
from p2c.streams.join import codec

Value = dict[str, Any]


@dataclass(frozen=True)
class DependencySpec:
    """A dependency the joins resolve: its change topic and key, and the fields a requester gets."""

    name: str  # "accounts": names the join in answers, tables and topics
    topic: str  # its change topic, keyed by ``key_field``
    key_field: str
    fields: Mapping[str, str]  # answer field -> source row field

    def subscription_topic(self, app_id: str) -> str:
        """Internal topics carry the app id, like Faust's changelogs: two apps never share them."""
        return f"{app_id}-join-{self.name}-subscriptions"

    def extract(self, change: Mapping[str, Any], message_key: str | None) -> tuple[str, Versioned]:
        """The dependency id and the value a change event gives it (None after a delete)."""
        row = change.get("after") or change.get("before") or {}
        dep = row.get(self.key_field, message_key)
        if dep is None:
            raise ValueError(f"{self.name}: a change without {self.key_field}")
        after = change.get("after") if change.get("op") != "d" else None
        value = None if after is None else {name: after.get(source) for name, source in self.fields.items()}
        return str(dep), Versioned(int(change["source"]["version"]), value)


@dataclass(frozen=True)
class Versioned:
    """A dependency's value at a source version; ``value`` None: deleted (or never seen)."""

    version: int
    value: Value | None

    def newer_than(self, other: Versioned | None) -> bool:
        return other is None or self.version > other.version

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "value": self.value}

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> Versioned | None:
        return None if doc is None else cls(int(doc["version"]), doc["value"])


@dataclass(frozen=True)
class Subscription:
    """``key`` (of the requester whose answers go to ``reply_to``) starts or stops following ``dep``.

    ``known``: the version of ``dep`` the requester already holds (it read it from a provider on its own
    worker): the provider answers it only with a newer one.
    """

    join: str
    dep: str
    reply_to: str
    key: str
    active: bool = True
    known: int | None = None

    def encode(self) -> bytes:
        doc = {"join": self.join, "dep": self.dep, "reply_to": self.reply_to, "key": self.key, "active": self.active}
        if self.known is not None:
            doc["known"] = self.known
        return codec.dumps(doc)

    @classmethod
    def decode(cls, data: bytes) -> Subscription:
        doc = codec.loads(data)
        known = doc.get("known")
        return cls(
            doc["join"],
            doc["dep"],
            doc["reply_to"],
            doc["key"],
            bool(doc["active"]),
            None if known is None else int(known),
        )


@dataclass(frozen=True)
class Answer:
    """The provider's answer: the value of ``dep`` in join ``join`` at a version."""

    join: str
    dep: str
    current: Versioned

    def encode(self) -> bytes:
        return codec.dumps({"join": self.join, "dep": self.dep, **self.current.as_json()})

    @classmethod
    def decode(cls, data: bytes) -> Answer:
        doc = codec.loads(data)
        return cls(doc["join"], doc["dep"], Versioned(int(doc["version"]), doc["value"]))


Subscriber = tuple[str, str]  # (reply_to topic, requester key)
Reply = tuple[str, str, Answer]  # (topic, key, answer)


@dataclass(frozen=True)
class ProviderStep:
    """What the provider stores for a dependency id after one input, and the answers it sends.

    The subscribers change by one at most, so a step names the change, not the whole set: a dependency
    followed by 20,000 quotes costs a subscription no more than one followed by one (issue 12).
    """

    current: Versioned | None
    replies: list[Reply]
    subscribed: Subscriber | None = None
    unsubscribed: Subscriber | None = None

    def applied(self, subscribers: AbstractSet[Subscriber]) -> frozenset[Subscriber]:
        """``subscribers`` after this step."""
        added = {self.subscribed} if self.subscribed else set()
        return frozenset((subscribers | added) - {self.unsubscribed})


def on_change(
    join: str, dep: str, current: Versioned | None, subscribers: AbstractSet[Subscriber], new: Versioned
) -> ProviderStep:
    """A dependency changed: keep the newest version and answer every subscriber.

    A change at or before the current version (a replay) answers again with the current value: the answers
    of its first pass may have been lost in a crash after the value table was stored. Requesters take a
    repeated answer as a replay and re-send their last writes, which the sinks skip when they have them.

    A newer change whose value is the current one (an account renamed: the joins read its number) changes
    nothing a subscriber reads: nobody is answered and the current version is kept, so the value table (and
    its changelog) is not written either. Measured: every rename cost a changelog record and an answer to
    every quote and contact of the account.
    """
    if current is not None and not new.newer_than(current):
        answer = Answer(join, dep, current)
        return ProviderStep(current, [(topic, key, answer) for topic, key in sorted(subscribers)])
    if current is not None and new.value == current.value:
        return ProviderStep(current, [])
    answer = Answer(join, dep, new)
    return ProviderStep(new, [(topic, key, answer) for topic, key in sorted(subscribers)])


def on_subscription(current: Versioned | None, sub: Subscription) -> ProviderStep:
    """A requester subscribes (answered at once when the value is known, unless it holds that version already)
    or unsubscribes. Subscribing twice, or unsubscribing a key that never subscribed, is harmless."""
    who = (sub.reply_to, sub.key)
    if not sub.active:
        return ProviderStep(current, [], unsubscribed=who)
    if current is None or (sub.known is not None and current.version <= sub.known):
        return ProviderStep(current, [], subscribed=who)
    return ProviderStep(current, [(sub.reply_to, sub.key, Answer(sub.join, sub.dep, current))], subscribed=who)


# ---- the requester's side: which dependencies a record follows, and the answers it holds -----------------

State = dict[str, Any]  # a requester's record as kept in its table; "follows": join -> [dependency ids]


@dataclass(frozen=True)
class Step:
    """What a requester does after one input: writes (target topic, write), its new state, why it waits."""

    state: State | None  # None: forget the record
    writes: list[tuple[str, Write]] = field(default_factory=list)
    waiting_on: dict[str, int] | None = None  # parked: what it waits for -> how many
    skipped: str | None = None  # why nothing was written, when that is the outcome
    resubscribe: bool = False  # a change the state already held: its subscriptions are sent again too


def replay(state: State, *, resubscribe: bool) -> Step:
    """An input at or before what the state holds (a replay): the last emission again, nothing else changes.

    A replayed change also sends its subscriptions again (the first pass's may have been lost); a replayed
    answer does not: it proves the subscription is there, and re-subscribing would be answered, endlessly.
    """
    return Step(state, emission.resend(state), waiting_on=state.get("waiting_on"), resubscribe=resubscribe)


def follows(state: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """What a requester's state follows: join -> dependency ids."""
    return dict((state or {}).get("follows") or {})


Needs = dict[str, set[str]]  # join -> dependency ids


def subscriptions(before: State | None, step: Step, reply_to: str, key: str) -> list[Subscription]:
    """The (un)subscriptions a requester sends after ``step``: the difference between what it followed and
    what it follows now, or, after a replayed change, everything it follows (the first pass's may be lost)."""
    if step.resubscribe:
        return [Subscription(join, dep, reply_to, key) for join, deps in follows(step.state).items() for dep in deps]
    subscribe, unsubscribe = subscription_changes(follows(before), follows(step.state))
    return [Subscription(j, d, reply_to, key) for j, d in subscribe] + [
        Subscription(j, d, reply_to, key, active=False) for j, d in unsubscribe
    ]


def subscription_changes(
    before: Mapping[str, Iterable[str]], after: Mapping[str, Iterable[str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(subscribe, unsubscribe)`` as ``(join, dep)`` pairs, from what was followed to what is needed."""
    old = {(join, dep) for join, deps in before.items() for dep in deps}
    new = {(join, dep) for join, deps in after.items() for dep in deps}
    return sorted(new - old), sorted(old - new)


def accept(resolved: Mapping[str, Mapping[str, Any]], followed: Mapping[str, Iterable[str]], answer: Answer) -> bool:
    """Whether a requester takes ``answer``: it follows that dependency and the answer is newer."""
    if answer.dep not in set(followed.get(answer.join, ())):
        return False  # it stopped following (or never did): a late answer
    held = Versioned.of(resolved.get(answer.join, {}).get(answer.dep))
    return answer.current.newer_than(held)


def is_replay(resolved: Mapping[str, Mapping[str, Any]], followed: Mapping[str, Iterable[str]], answer: Answer) -> bool:
    """An answer for a followed dependency that is not newer than the one held: the requester re-sends its last
    emission (the answer may have produced it before a crash lost it, see :mod:`streams.emission`)."""
    return answer.dep in set(followed.get(answer.join, ())) and not accept(resolved, followed, answer)


def keep_followed(
    resolved: Mapping[str, Mapping[str, Any]], followed: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, Any]]:
    """The answers held for dependencies still followed (the others are dropped with their subscription)."""
    kept: dict[str, dict[str, Any]] = {}
    for join, deps in followed.items():
        held = {dep: resolved[join][dep] for dep in deps if dep in resolved.get(join, {})}
        if held:
            kept[join] = held
    return kept


def value_of(resolved: Mapping[str, Mapping[str, Any]], join: str, dep: str) -> Versioned | None:
    """The answer held for ``dep`` in ``join``, if any."""
    return Versioned.of(resolved.get(join, {}).get(dep))
