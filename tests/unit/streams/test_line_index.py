"""The line index's pure parts: which quote-line changes it learns from, and how an orphan delete is placed."""

from __future__ import annotations

from p2c.streams import loader, samples
from p2c.streams.line_index import entry_for, placed
from p2c.streams.quotes import QuotesFlow, is_orphan_delete
from p2c.topics import CRM_QUOTEDETAILS

LINE = {"quotedetailid": "l-1", "_quoteid_value": "q-1", "sequencenumber": 1}


def test_a_line_upsert_indexes_the_line_under_its_quote() -> None:
    assert entry_for(samples.change("u", LINE, 5, entity="quotedetails"), "q-1") == ("l-1", {"quote": "q-1"})


def test_a_delete_keyed_by_its_quote_is_no_orphan_and_teaches_nothing() -> None:
    change = samples.change("d", LINE, 6, entity="quotedetails")
    assert not is_orphan_delete(change, "q-1") and entry_for(change, "q-1") is None


def test_a_delete_keyed_by_the_line_itself_is_an_orphan_placed_under_its_quote() -> None:
    change = samples.change("d", {"quotedetailid": "l-1"}, 7, entity="quotedetails")
    assert is_orphan_delete(change, "l-1")
    assert entry_for(change, "l-1") == ("l-1", {"orphan": change})
    again = placed(change, "q-1")
    assert again["before"] == {"quotedetailid": "l-1", "_quoteid_value": "q-1"} and not is_orphan_delete(again, "q-1")


def test_the_quotes_flow_leaves_an_orphan_to_the_index_instead_of_parking_it() -> None:
    flow = QuotesFlow(loader.load("quotes-header"), loader.load("quotes-lines"))
    change = samples.change("d", {"quotedetailid": "l-1"}, 7, entity="quotedetails")
    step = flow.on_change(CRM_QUOTEDETAILS.name, None, change, "l-1")
    assert step.state is None and not step.writes and step.waiting_on is None and "line index" in str(step.skipped)
