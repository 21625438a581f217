"""/metrics renders the Prometheus text exposition format from a snapshot (no Kafka)."""

from __future__ import annotations

from p2c.control.lifecycle import Entry
from p2c.control.overview import Snapshot
from p2c.control.prometheus import exposition
from p2c.status import ComponentStatus, FlowStatus, Report


def test_flows_dead_letters_and_components_are_exposed_per_label() -> None:
    flow = FlowStatus("contacts", "CRM → ERP", events_in=9, written=5, waiting=2, lag=3, waiting_on={'account "x"': 2})
    report = Report([flow], [ComponentStatus("sink-erp", 1, 0.5)])
    letters = [Entry("contacts.0.1", "contacts", "C-1", "sink", "why", None, "t", "o", state="open")]
    text = exposition(Snapshot(report, letters), ready=False)
    lines = text.splitlines()
    assert "p2c_ready 0" in lines
    assert 'p2c_flow_lag{flow="contacts"} 3' in lines
    assert 'p2c_flow_written_total{flow="contacts"} 5' in lines
    assert 'p2c_flow_waiting_on{flow="contacts",on="account \\"x\\""} 2' in lines
    assert 'p2c_flow_dead_letters{flow="contacts",state="open"} 1' in lines
    assert 'p2c_flow_dead_letters{flow="contacts",state="discarded"} 0' in lines
    assert 'p2c_component_live{component="sink-erp"} 1' in lines
    assert "# TYPE p2c_flow_written_total counter" in lines and text.endswith("\n")
