from __future__ import annotations

import pytest

from p2c.errors import ConfigurationError, P2CError, RecordError, RetriableError


def test_record_error_names_record_and_field() -> None:
    error = RecordError("not a valid country", record_key="ACC-00001", field="address1_country")
    assert str(error) == "record 'ACC-00001', field 'address1_country': not a valid country"
    assert (error.reason, error.record_key, error.field) == ("not a valid country", "ACC-00001", "address1_country")


@pytest.mark.parametrize(
    ("key", "field", "expected"),
    [("K", None, "record 'K': bad"), (None, "f", "field 'f': bad"), (None, None, "bad")],
)
def test_record_error_message_without_key_or_field(key: str | None, field: str | None, expected: str) -> None:
    assert str(RecordError("bad", record_key=key, field=field)) == expected


def test_one_root_and_retry_after() -> None:
    assert issubclass(ConfigurationError, P2CError)
    assert issubclass(RecordError, P2CError)
    error = RetriableError("429 from the ERP", retry_after=2.5)
    assert isinstance(error, P2CError) and error.retry_after == 2.5
    assert RetriableError("boom").retry_after is None
