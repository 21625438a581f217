"""The waiting gauge kept by difference gives what a recount over every parked record gives (in change events,
under one label per record, so the breakdown adds up)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from p2c.streams.counters import FlowCounters, ParkedGauge, waiting_label

KEYS = st.sampled_from([b"q-1", b"q-2", b"q-3", b"q-4"])
WAITING_ON = st.none() | st.dictionaries(st.sampled_from(["customer", "product", "header"]), st.integers(1, 3))


@given(st.lists(st.tuples(KEYS, WAITING_ON, st.integers(0, 4)), max_size=40))
def test_the_gauge_equals_a_recount_after_any_parks_and_releases(
    steps: list[tuple[bytes, dict[str, int] | None, int]],
) -> None:
    counters = FlowCounters("quotes")
    gauge, model = ParkedGauge(counters), {}
    for key, waiting_on, events in steps:
        gauge.set(key, waiting_on, events)
        if waiting_on:
            model[key] = (waiting_label(waiting_on), events)
        else:
            model.pop(key, None)
        total: Counter[str] = Counter()
        for label, n in model.values():
            total[label] += n
        assert counters.waiting == sum(n for _, n in model.values()) == sum(counters.waiting_on.values())
        assert counters.waiting_on == {label: n for label, n in total.items() if n}


def test_clear_forgets_every_parked_record() -> None:
    counters = FlowCounters("contacts")
    gauge = ParkedGauge(counters)
    gauge.set(b"c-1", {"account": 1})
    gauge.clear()
    assert (counters.waiting, counters.waiting_on, gauge.parked) == (0, {}, {})
