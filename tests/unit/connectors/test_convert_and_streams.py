"""Stream declarations -> $select, and row -> Avro dict conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from p2c.connectors.core.convert import RowConverter, record_schema, to_millis
from p2c.connectors.dataverse.streams import STREAMS, streams_for
from p2c.errors import RecordError

pytestmark = pytest.mark.timeout(10)


def test_select_comes_from_the_row_schema_minus_resolved_fields() -> None:
    accounts = STREAMS["accounts"]
    assert accounts.select[:3] == ["accountid", "accountnumber", "name"]
    assert "_transactioncurrencyid_value" in accounts.select
    assert "transactioncurrencyid_isocurrencycode" not in accounts.select
    assert {"_modifiedby_value", "createdon", "versionnumber", "modifiedon"} <= set(accounts.select)
    quotes = STREAMS["quotes"]
    assert "_customerid_value" in quotes.select and "customerid_type" not in quotes.select
    assert "uomid_name" not in STREAMS["quotedetails"].select
    assert "defaultuomid_name" not in STREAMS["products"].select


def test_declarations() -> None:
    assert STREAMS["quotedetails"].event_key == "_quoteid_value" and STREAMS["quotedetails"].keyed_by_parent
    assert STREAMS["quotedetails"].flow == "quotes"
    assert not STREAMS["products"].ignore_own_changes and STREAMS["accounts"].ignore_own_changes
    with pytest.raises(KeyError, match="unknown entity sets"):
        streams_for(["accounts", "leads"])


def test_every_row_schema_is_found() -> None:
    for stream in STREAMS.values():
        assert stream.converter.field_names[0] == stream.key


def test_conversion_to_avro_types() -> None:
    conv = RowConverter.for_record(record_schema("p2c.src.crm.quotedetails", "after"))
    out = conv.convert(
        {
            "quotedetailid": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "quantity": 3,
            "priceperunit": 12.345678,
            "requestdeliveryby": "2026-03-01",
            "modifiedon": "2026-01-02T03:04:05Z",
            "versionnumber": 77,
            "isproductoverridden": False,
            "sequencenumber": 2,
        }
    )
    assert out["quantity"] == Decimal("3.00000") or out["quantity"] == Decimal(3)
    assert out["priceperunit"].as_tuple().exponent <= -4
    assert out["requestdeliveryby"] == date(2026, 3, 1)
    assert out["modifiedon"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert out["versionnumber"] == 77 and out["description"] is None
    assert to_millis("2026-01-02T03:04:05.250Z") == 1767323045250


@pytest.mark.parametrize(
    ("field", "value"),
    [("numberofemployees", "many"), ("creditlimit", "lots"), ("modifiedon", "yesterday"), ("statecode", 1.5)],
)
def test_a_value_that_does_not_convert_names_its_field(field: str, value: object) -> None:
    conv = STREAMS["accounts"].converter
    with pytest.raises(RecordError) as info:
        conv.convert({"accountid": "x", field: value}, key="x")
    assert info.value.field == field and info.value.record_key == "x"


def test_a_missing_required_field_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="required"):
        STREAMS["accounts"].converter.convert({"name": "no id"})
