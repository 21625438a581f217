"""The waiting gauge kept by difference gives what a recount over every parked record gives."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from p2c.streams.counters import FlowCounters, ParkedGauge

KEYS = st.sampled_from([b"q-1", b"q-2", b"q-3", b"q-4"])
WAITING_ON = st.none() | st.dictionaries(st.sampled_from(["customer", "product", "header"]), st.integers(1, 3))


@given(st.lists(st.tuples(KEYS, WAITING_ON), max_size=40))
def test_the_gauge_equals_a_recount_after_any_parks_and_releases(
    steps: list[tuple[bytes, dict[str, int] | None]],
) -> None:
    counters = FlowCounters("quotes")
    gauge, model = ParkedGauge(counters), {}
    for key, waiting_on in steps:
        gauge.set(key, waiting_on)
        if waiting_on:
            model[key] = waiting_on
        else:
            model.pop(key, None)
        total: Counter[str] = Counter()
        for parked in model.values():
            total.update(parked)
        assert counters.waiting == len(model)
        assert counters.waiting_on == dict(total)


def test_clear_forgets_every_parked_record() -> None:
    counters = FlowCounters("contacts")
    gauge = ParkedGauge(counters)
    gauge.set(b"c-1", {"account": 1})
    gauge.clear()
    assert (counters.waiting, counters.waiting_on, gauge.parked) == (0, {}, {})
