from __future__ import annotations

from p2c.flows import FLOWS, by_name, sink_group
from p2c.stages import live
from p2c.status import ComponentStatus, FlowStatus, Report, _components, _lag, as_json, render
from p2c.topics import ERP_CUSTOMERS


def test_lag_counts_uncommitted_and_never_committed_partitions() -> None:
    ends = {("t", 0): 10, ("t", 1): 5, ("t", 2): 0}
    assert _lag(ends, {("t", 0): 7, ("t", 1): -1}) == 3 + 5
    assert _lag(ends, {("t", 0): 10, ("t", 1): 5}) == 0


def test_every_flow_has_its_sink_group_and_dead_letter_topic() -> None:
    assert [f.name for f in FLOWS] == ["accounts", "contacts", "quotes", "products"]
    assert sink_group(ERP_CUSTOMERS) == "p2c-sink-erp-customers"
    assert by_name("quotes").dead_letter.name == "p2c.dlq.quotes"
    assert by_name("contacts").sink_groups == ("p2c-sink-erp-customers", "p2c-sink-erp-contactpersons")


def test_render_shows_every_flow_and_what_waits() -> None:
    report = Report(
        [
            FlowStatus("accounts", "CRM → ERP", events_in=300, written=298, dead_lettered=2),
            FlowStatus("quotes", "CRM → ERP", events_in=50, waiting=3, waiting_on={"product P-7": 2, "customer": 1}),
        ],
        [ComponentStatus("sink-erp", 2, 1.0), ComponentStatus("streams", 0, 60.0)],
    )
    text = render(report)
    header, accounts = text.splitlines()[:2]
    assert header.startswith("flow") and header.split()[-2:] == ["dead-lettered", "lag"]
    assert accounts.split() == ["accounts", "CRM", "→", "ERP", "300", "298", "0", "0", "2", "0"]
    assert "quotes waiting: 1 on customer, 2 on product P-7" in text
    assert "components: sink-erp (2 live), streams (not seen for 60 s)" in text
    assert as_json(report)["flows"][1]["waiting_on"] == {"product P-7": 2, "customer": 1}


def test_counts_add_up_over_every_instance_and_gauges_only_over_live_ones() -> None:
    now = 1_000_000.0
    snapshots = [
        {"component": "sink-erp", "ts_ms": now - 500_000, "counts": {"accounts": {"written": 40}}},  # dead
        {"component": "sink-erp", "ts_ms": now - 1_000, "counts": {"accounts": {"written": 2}}},  # restarted
        {"component": "streams", "ts_ms": now - 500_000, "gauges": {"quotes": {"waiting": 7}}},  # dead
        {"component": "streams", "ts_ms": now - 1_000, "gauges": {"quotes": {"waiting": 3}}},
    ]
    components = _components(snapshots, now)
    assert [(c.component, c.live) for c in components] == [("sink-erp", 1), ("streams", 1)]
    assert [live(s, now) for s in snapshots] == [False, True, False, True]


def test_what_a_sink_read_past_its_commit_is_not_lag() -> None:
    from p2c.status import _past_commit, _read_up_to

    assert _read_up_to(10, 0) == 10 and _read_up_to(-1, 0) == -1
    assert _read_up_to(10, 6) == 16 and _read_up_to(-1, 4) == 4
    ends = {("t", 0): 16}
    assert _lag(ends, {("t", 0): _read_up_to(10, 6)}) == 0 and _lag(ends, {("t", 0): 10}) == 6
    now = 1_000_000.0
    snaps = [
        {"component": "sink-erp", "ts_ms": now - 1_000, "past_commit": {"t": {"0": 6}}},
        {"component": "sink-erp", "ts_ms": now - 1_000, "stopped": True, "past_commit": {"t": {"0": 9}}},
    ]
    assert _past_commit(snaps, now) == {("t", 0): 6}
