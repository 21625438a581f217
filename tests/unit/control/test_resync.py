"""``p2c resync``: what a flow's resync asks of which sources, and how a source takes it."""

from __future__ import annotations

from collections.abc import Iterator

from p2c.connectors.base.source import Position, Source, SourceItem
from p2c.control.resync import entity_sets_of
from p2c.replays import Resync, Resyncing, decode


class Reads(Source):
    def __init__(self, *entity_sets: str) -> None:
        super().__init__()
        self.sets = list(entity_sets)

    def entity_sets(self) -> list[str]:
        return self.sets

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        yield from ()


def test_a_flow_resyncs_what_its_sources_read_and_what_it_joins_on() -> None:
    assert entity_sets_of("accounts") == ("accounts",)
    assert set(entity_sets_of("quotes")) == {"quotes", "quotedetails"}
    assert set(entity_sets_of("products")) == {"products", "CDSReleasedDistinctProducts"}


def test_a_source_takes_only_its_entity_sets_and_each_once() -> None:
    source = Reads("accounts", "contacts")
    assert source.resync(["accounts", "CDSReleasedDistinctProducts"]) == ["accounts"]
    assert source.take_resync("accounts") and not source.take_resync("accounts")
    assert not source.take_resync("contacts")


def test_requests_and_answers_survive_the_topic() -> None:
    request = Resync("r1", "quotes", ("quotes", "quotedetails"), 1_700_000_000_000)
    answer = Resyncing("r1", "source-crm@host:1", ("quotes",))
    assert decode(request.encode()) == request
    assert decode(answer.encode()) == answer
