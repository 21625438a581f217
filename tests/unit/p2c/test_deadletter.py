from __future__ import annotations

from datetime import datetime

from p2c.deadletter import FIELD, ORIGIN_OFFSET, REASON, DeadLetter
from p2c.errors import RecordError


def _letter(field: str | None = "creditlimit") -> DeadLetter:
    error = RecordError("exceeds precision 19", record_key="ACC-1", field=field)
    return DeadLetter.from_error(
        error,
        flow="accounts",
        stage="streams",
        key=b"ACC-1",
        value=b"\x00\x00\x00\x00\x01raw",
        topic="p2c.src.crm.accounts",
        partition=3,
        offset=42,
    )


def test_headers_round_trip() -> None:
    letter = _letter()
    back = DeadLetter.from_message("accounts", letter.key, letter.value, letter.headers())
    assert back == letter
    assert back.topic == "p2c.dlq.accounts"


def test_headers_carry_reason_field_origin_and_time() -> None:
    letter = _letter()
    headers = dict(letter.headers())
    assert headers[REASON] == b"record 'ACC-1', field 'creditlimit': exceeds precision 19"
    assert headers[FIELD] == b"creditlimit"
    assert headers[ORIGIN_OFFSET] == b"42"
    assert datetime.fromisoformat(letter.time).tzinfo is not None


def test_no_field_header_when_field_unknown() -> None:
    letter = _letter(field=None)
    assert FIELD not in dict(letter.headers())
    assert DeadLetter.from_message("accounts", None, None, letter.headers()).field is None


def test_message_without_headers_still_decodes() -> None:
    letter = DeadLetter.from_message("quotes", b"k", b"v", None)
    assert (letter.reason, letter.origin_offset, letter.topic) == ("?", -1, "p2c.dlq.quotes")
