from __future__ import annotations

from p2c.flows import FLOWS, by_name, sink_group
from p2c.status import ComponentStatus, FlowStatus, Report, _lag, as_json, render
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
        [ComponentStatus("sink-erp", "h", 1, 1.0), ComponentStatus("streams", "h", 2, 60.0)],
    )
    text = render(report)
    header, accounts, quotes = text.splitlines()[:3]
    assert header.split() == ["flow", "direction", "events", "in", "written", "waiting", "skipped", "dead-lettered", "lag"]
    assert accounts.split() == ["accounts", "CRM", "→", "ERP", "300", "298", "0", "0", "2", "0"]
    assert "quotes waiting: 1 on customer, 2 on product P-7" in text
    assert "streams (stale)" in text and "sink-erp (stale)" not in text
    assert as_json(report)["flows"][1]["waiting_on"] == {"product P-7": 2, "customer": 1}
