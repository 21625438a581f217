"""Quote assembly and readiness, pure: parked until customer and products are known, then one write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from p2c.errors import RecordError
from p2c.streams import loader, samples
from p2c.streams.avro_fields import target_fields
from p2c.streams.join.core import Answer, State, Step, Versioned
from p2c.streams.quotes import QuotesFlow

pytestmark = pytest.mark.timeout(5)
QUOTES, LINES = "p2c.src.crm.quotes", "p2c.src.crm.quotedetails"


@pytest.fixture(scope="module")
def flow() -> QuotesFlow:
    return QuotesFlow(loader.load("quotes-header"), loader.load("quotes-lines"))


def header(**fields: Any) -> dict[str, Any]:
    return {
        "quoteid": "q-1",
        "quotenumber": "QUO-1",
        "statecode": 1,
        "_customerid_value": "a-1",
        "customerid_type": "account",
        **fields,
    }


def line(n: int, product: str | None = "p-1", **fields: Any) -> dict[str, Any]:
    return {
        "quotedetailid": f"l-{n}",
        "_quoteid_value": "q-1",
        "sequencenumber": n,
        "_productid_value": product,
        "quantity": Decimal("2.00000"),
        "uomid_name": "Dozen",
        **fields,
    }


Input = tuple[str, str, dict[str, Any], int] | Answer


def feed(flow: QuotesFlow, *inputs: Input) -> Step:
    """The step of the last input, fed from no state (every change at the same ``ts_ms``)."""
    state: State | None = None
    step = Step(None)
    for item in inputs:
        if isinstance(item, Answer):
            step = flow.on_answer(state, item)
        else:
            topic, op, row, version = item
            change = samples.change(op, row, version, entity="quotes")
            change["source"]["ts_ms"] = 1_700_000_000_000
            step = flow.on_change(topic, state, change, "q-1")
        state = step.state
    return step


ACCOUNT = Answer("accounts", "a-1", Versioned(50, {"number": "ACC-1"}))
PRODUCT = Answer("products", "p-1", Versioned(60, {"number": "P-1", "external": True}))


def test_a_quote_waits_for_its_customer_and_products_then_goes_with_all_its_lines(flow: QuotesFlow) -> None:
    parked = feed(flow, (QUOTES, "c", header(), 1), (LINES, "c", line(1), 2))
    assert parked.waiting_on == {"customer": 1, "product": 1} and not parked.writes
    assert parked.state is not None and parked.state["follows"] == {"accounts": ["a-1"], "products": ["p-1"]}
    step = feed(flow, (QUOTES, "c", header(), 1), (LINES, "c", line(1), 2), ACCOUNT, PRODUCT)
    [(topic, write)] = step.writes
    assert topic == "p2c.tgt.erp.quotations" and write.key == "usmf|QUO-1"
    record = write.value["record"]
    assert record["header"]["RequestingCustomerAccountNumber"] == "ACC-1"
    assert record["header"]["RequestedShippingDate"].isoformat() == "2020-01-01"
    assert record["header"]["DeliveryAddressCountryRegionISOCode"] == "US"
    [first] = record["lines"]
    assert (first["SalesQuotationNumber"], first["ProductNumber"], first["SalesUnitSymbol"]) == ("QUO-1", "P-1", "dz")
    unmapped = {"ShippingSiteId", "ShippingWarehouseId"}  # optional, no default (§1.3): from customer or product
    assert set(first) == set(target_fields("p2c.tgt.erp.quotations", ("lines",))) - unmapped
    assert set(record["header"]) == set(target_fields("p2c.tgt.erp.quotations", ("header",)))
    assert write.value["origin"] == {**write.value["origin"], "id": "q-1", "version": 60, "entity": "quotes"}


def test_line_changes_re_emit_all_current_lines_and_a_replay_sends_the_last_write_again(flow: QuotesFlow) -> None:
    base: list[Input] = [(QUOTES, "c", header(), 1), (LINES, "c", line(1), 2), ACCOUNT, PRODUCT]
    added = feed(flow, *base, (LINES, "c", line(2), 70))
    assert [ln["LineCreationSequenceNumber"] for ln in added.writes[0][1].value["record"]["lines"]] == [1, 2]
    removed = feed(flow, *base, (LINES, "c", line(2), 70), (LINES, "d", {"quotedetailid": "l-2"}, 71))
    assert [ln["LineCreationSequenceNumber"] for ln in removed.writes[0][1].value["record"]["lines"]] == [1]
    assert removed.writes[0][1].value["origin"]["version"] == 71
    first = feed(flow, *base)
    # the same answer or change again (a replay after a crash): the last write, same version, nothing new
    again: Input
    for again in (ACCOUNT, (LINES, "c", line(1), 2), (QUOTES, "c", header(), 1)):
        assert feed(flow, *base, again).writes == first.writes


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ([(QUOTES, "c", header(statecode=0), 1)], "not active"),
        ([(QUOTES, "c", header(), 1), (LINES, "c", line(1, product=None), 2)], "write-in"),
        (
            [
                (QUOTES, "c", header(), 1),
                (LINES, "c", line(1), 2),
                Answer("products", "p-1", Versioned(9, {"number": "P-1", "external": False})),
            ],
            "not externally maintained",
        ),
    ],
)
def test_what_is_skipped(flow: QuotesFlow, inputs: list[Any], reason: str) -> None:
    step = feed(flow, *inputs)
    assert step.skipped is not None and reason in step.skipped and not step.writes


def test_a_header_that_comes_before_its_lines_waits_for_them(flow: QuotesFlow) -> None:
    """Header and lines are read from two entity sets: in an initial load the header may come first."""
    early = feed(flow, (QUOTES, "c", header(), 1), ACCOUNT)
    assert not early.writes and early.waiting_on == {"lines": 1}
    write_in = feed(flow, (QUOTES, "c", header(), 1), ACCOUNT, (LINES, "c", line(1, product=None), 2))
    assert not write_in.writes and write_in.skipped is not None and "write-in" in write_in.skipped
    written: list[Input] = [(QUOTES, "c", header(), 1), ACCOUNT, (LINES, "c", line(1), 2), PRODUCT]
    assert [ln["ProductNumber"] for ln in feed(flow, *written).writes[0][1].value["record"]["lines"]] == ["P-1"]
    emptied = feed(flow, *written, (LINES, "d", {"quotedetailid": "l-1"}, 70))  # written before: goes without
    assert emptied.writes[0][1].value["record"]["lines"] == []


def test_a_written_quote_whose_write_in_line_comes_late_withdraws_its_quotation(flow: QuotesFlow) -> None:
    """Its first line in one batch, its write-in line in the next: it went out, and must not stay."""
    written: list[Input] = [(QUOTES, "c", header(), 1), (LINES, "c", line(1), 2), ACCOUNT, PRODUCT]
    late: list[Input] = [*written, (LINES, "c", line(2, product=None), 3)]
    [(topic, withdrawn)] = feed(flow, *late).writes
    assert (topic, withdrawn.key, withdrawn.value["op"]) == ("p2c.tgt.erp.quotations", "usmf|QUO-1", "DELETE")
    assert withdrawn.value["origin"]["version"] > feed(flow, *written).writes[0][1].value["origin"]["version"]
    after = feed(flow, *late, Answer("accounts", "a-1", Versioned(70, {"number": "ACC-1", "name": "new"})))
    assert not after.writes and after.skipped is not None and "write-in" in after.skipped  # withdrawn once
    fixed = feed(flow, *late, (LINES, "d", {"quotedetailid": "l-2"}, 80))  # the write-in line deleted
    [(_, again)] = fixed.writes
    assert again.value["op"] == "UPSERT" and [ln["ProductNumber"] for ln in again.value["record"]["lines"]] == ["P-1"]


def test_a_written_quote_whose_line_of_a_product_not_externally_maintained_comes_late_withdraws_it(
    flow: QuotesFlow,
) -> None:
    """The same for a line whose product FinOps does not know: the quotation goes, and comes back if the
    product becomes externally maintained."""
    written: list[Input] = [(QUOTES, "c", header(), 1), (LINES, "c", line(1), 2), ACCOUNT, PRODUCT]
    sales_only = Answer("products", "p-2", Versioned(61, {"number": "CRM-2", "external": False}))
    late: list[Input] = [*written, (LINES, "c", line(2, product="p-2"), 3), sales_only]
    [(_, withdrawn)] = feed(flow, *late).writes
    assert (withdrawn.key, withdrawn.value["op"]) == ("usmf|QUO-1", "DELETE")
    external = Answer("products", "p-2", Versioned(62, {"number": "CRM-2", "external": True}))
    [(_, again)] = feed(flow, *late, external).writes
    assert again.value["op"] == "UPSERT" and [ln["ProductNumber"] for ln in again.value["record"]["lines"]] == [
        "P-1",
        "CRM-2",
    ]


def test_a_contact_customer_must_be_an_active_customer(flow: QuotesFlow) -> None:
    quote = (QUOTES, "c", header(customerid_type="contact", _customerid_value="c-1"), 1)
    lined: list[Input] = [quote, (LINES, "c", line(1), 2), PRODUCT]
    inactive = Answer("contacts", "c-1", Versioned(5, {"number": "CON-1", "active": False}))
    assert feed(flow, *lined, inactive).waiting_on == {"customer": 1}
    active = Answer("contacts", "c-1", Versioned(6, {"number": "CON-1", "active": True}))
    [(_, write)] = feed(flow, *lined, inactive, active).writes
    assert write.value["record"]["header"]["InvoiceCustomerAccountNumber"] == "CON-1"


def test_a_deleted_quote_deletes_its_quotation_and_a_quote_without_customer_is_an_error(flow: QuotesFlow) -> None:
    written: list[Input] = [(QUOTES, "c", header(), 1), (LINES, "c", line(1), 2), ACCOUNT, PRODUCT]
    step = feed(flow, *written, (QUOTES, "d", {"quoteid": "q-1"}, 80))
    assert [(w.key, w.value["op"]) for _, w in step.writes] == [("usmf|QUO-1", "DELETE")]
    with pytest.raises(RecordError):
        feed(flow, (QUOTES, "c", header(_customerid_value=None), 1))


def test_an_old_revision_keeps_out_of_the_live_revisions_quotation(flow: QuotesFlow) -> None:
    written: list[Input] = [(QUOTES, "c", header(statuscode=2), 1), (LINES, "c", line(1), 2), ACCOUNT, PRODUCT]
    assert feed(flow, *written).writes  # the first revision was written
    revised = (QUOTES, "u", header(statecode=3, statuscode=7), 90)  # ReviseQuote closed it as Revised
    step = feed(flow, *written, revised)
    assert step.skipped is not None and "not active" in step.skipped and not step.writes
    deleted = feed(flow, *written, revised, (QUOTES, "d", {"quoteid": "q-1"}, 95))
    assert deleted.writes == [] and deleted.skipped is not None and "old revision" in deleted.skipped
