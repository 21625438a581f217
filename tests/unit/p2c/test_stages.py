"""Counts per stage add up across restarts, handovers and crashes (p2c.stages)."""

from __future__ import annotations

from typing import Any

from p2c.stages import stages

NOW = 1_000_000_000.0


def snap(
    component: str, age_s: float, counts: dict[str, int], gauges: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "component": component,
        "ts_ms": NOW - age_s * 1000,
        "counts": {"quotes": counts},
        "gauges": {"quotes": gauges or {}},
        **extra,
    }


def by_stage(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    return {s.stage: s for s in stages("quotes", snapshots, NOW)}


def test_a_streams_restart_hands_its_parked_events_over_and_everything_adds_up() -> None:
    first = snap(
        "streams",
        600,
        {"in": 10, "written": 5, "skipped": 1, "skipped:not active": 1, "dead_lettered": 1},
        {"waiting": 3, "waiting_on": {"product": 3}},
        stopped=True,
    )
    second = snap(
        "streams",
        1,
        {"in": 4, "written": 5, "carried_in": 3, "skipped": 0},
        {"waiting": 2, "waiting_on": {"customer, product": 2}},
    )
    s = by_stage([first, second])["streams"]
    assert s.unit == "change events"
    assert (s.total.read, s.total.written, s.total.waiting, s.total.in_flight) == (14, 10, 2, 0)
    assert s.total.carried_in == s.total.carried_out == 3
    assert s.total.skipped_by == {"not active": 1}
    assert (s.since_start.read, s.since_start.carried_in, s.since_start.in_flight) == (4, 3, 0)
    assert s.since_start.waiting_on == {"customer, product": 2}


def test_a_crashed_sink_s_held_and_unsettled_records_are_requeued() -> None:
    crashed = snap("sink-erp", 600, {"read": 20, "written": 15, "skipped": 1, "skipped:x": 1}, {"held": 2})
    running = snap("sink-erp", 1, {"read": 6, "written": 4, "dead_lettered": 1}, {"held": 1})
    s = by_stage([crashed, running])["sink"]
    assert s.total.requeued == 4 and s.total.held == 1 and s.total.in_flight == 0
    assert s.since_start.read == 6 and s.since_start.in_flight == 0


def test_a_source_reads_what_it_publishes_or_dead_letters() -> None:
    s = by_stage([snap("source-crm", 1, {"in": 9, "dead_lettered": 2})])["source"]
    assert (s.total.read, s.total.written, s.total.dead_lettered, s.total.in_flight) == (11, 9, 2, 0)


def test_a_batch_being_written_shows_in_flight() -> None:
    s = by_stage([snap("sink-erp", 1, {"read": 5, "written": 3})])["sink"]
    assert s.total.in_flight == 2


def test_status_prints_each_stage_in_its_unit_with_its_rules_and_a_load_s_progress() -> None:
    from p2c.status import FlowStatus, load_line, stage_lines

    flow = FlowStatus("quotes", "CRM → ERP", last_sync_ms=None)
    flow.stages = list(
        by_stage(
            [snap("streams", 1, {"in": 7, "written": 4, "skipped": 1, "skipped:not active": 1}, {"waiting": 2})]
        ).values()
    )
    text = "\n".join(stage_lines([flow]))
    assert "quotes (last write never):" in text
    assert "streams change events   read 7 = written 4 + waiting 2 + skipped 1" in text
    assert "skipped 1: not active" in text
    loading = {"entity": "accounts", "state": "loading", "done": 250, "total": 1000, "rate_per_s": 25.0}
    assert load_line(loading | {"seconds_left": 30.0}).startswith(
        "full load of accounts: 250 of 1000 rows (25%), 25/s, 30 s left; last poll"
    )
    assert "time left unknown" in load_line(loading | {"total": None})
