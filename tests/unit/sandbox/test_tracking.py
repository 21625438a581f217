"""Change tracking on a temporary SQLite file: tokens, watermarks, paging, tombstones (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.app import open_store
from p2c.sandbox.crm.store import CrmStore
from p2c.sandbox.crm.tracking import Cursor, TrackPage, make_token, read_token, track_page
from p2c.sandbox.odata.errors import ODataError

USER = "2fc95d15-aa7a-5b27-9e0c-8a133a808630"
COLUMNS = ["accountid", "name", "versionnumber"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CrmStore]:
    s = open_store(tmp_path)
    yield s
    s.close()


def add(store: CrmStore, name: str) -> str:
    return str(store.create(E.ACCOUNTS, {"name": name}, USER)["accountid"])


def load(store: CrmStore, cursor: Cursor, size: int = 1000) -> list[TrackPage]:
    pages = [track_page(store.conn, E.ACCOUNTS, COLUMNS, cursor, size)]
    while pages[-1].next is not None:
        pages.append(track_page(store.conn, E.ACCOUNTS, COLUMNS, pages[-1].next, size))
    return pages


def test_token_round_trip_expiry_and_garbage() -> None:
    issued = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    token = make_token(915244, issued)
    assert token == "915244!01/01/2026 12:00:00"
    assert read_token(token, 915300, ttl_s=3600, now=issued + timedelta(minutes=59)) == 915244
    for bad, now in [(token, issued + timedelta(hours=2)), ("nonsense", issued), (make_token(999999, issued), issued)]:
        with pytest.raises(ODataError) as err:
            read_token(bad, 915300, ttl_s=3600, now=now)
        assert err.value.code == "0x80044352" and err.value.status == 400


def test_full_load_pages_up_to_the_watermark(store: CrmStore) -> None:
    ids = [add(store, f"A{i}") for i in range(7)]
    high = store.db.counter("versionnumber")
    first = track_page(store.conn, E.ACCOUNTS, COLUMNS, Cursor(0, high), 3)
    assert [r["accountid"] for r in first.rows] == ids[:3] and first.next is not None
    # Changed while the client pages: the row moves above the watermark and waits for the delta.
    store.upsert(E.ACCOUNTS, ids[5], {"name": "changed meanwhile"}, USER)
    late = add(store, "late")
    rest = load(store, first.next, 3)
    seen = [r["accountid"] for p in rest for r in p.rows]
    assert seen == ids[3:5] + ids[6:]
    delta = load(store, Cursor(high, store.db.counter("versionnumber"), delta=True))
    assert [r["accountid"] for p in delta for r in p.rows] == [ids[5], late]


def test_delta_returns_current_state_once_then_deletes(store: CrmStore) -> None:
    keep, change, drop = add(store, "keep"), add(store, "change"), add(store, "drop")
    low = store.db.counter("versionnumber")
    store.upsert(E.ACCOUNTS, change, {"name": "v2"}, USER)
    store.upsert(E.ACCOUNTS, change, {"name": "v3"}, USER)
    store.delete(E.ACCOUNTS, drop, USER)
    ghost = add(store, "created and deleted")
    store.delete(E.ACCOUNTS, ghost, USER)
    pages = load(store, Cursor(low, store.db.counter("versionnumber"), delta=True))
    rows = [r for p in pages for r in p.rows]
    assert [(r["accountid"], r["name"]) for r in rows] == [(change, "v3")]
    assert [d for p in pages for d in p.deleted] == [drop, ghost]
    assert keep not in {r["accountid"] for r in rows}


def test_delta_paging_spans_rows_and_tombstones(store: CrmStore) -> None:
    ids = [add(store, f"x{i}") for i in range(5)]
    low = store.db.counter("versionnumber")
    for i in ids[:3]:
        store.upsert(E.ACCOUNTS, i, {"name": "changed"}, USER)
    for i in ids[3:]:
        store.delete(E.ACCOUNTS, i, USER)
    pages = load(store, Cursor(low, store.db.counter("versionnumber"), delta=True), size=2)
    assert [len(p.rows) + len(p.deleted) for p in pages] == [2, 2, 1]
    assert [d for p in pages for d in p.deleted] == ids[3:]


def test_cursor_is_opaque_and_checked() -> None:
    cursor = Cursor(3, 9, 5, "deleted", True)
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(ODataError):
        Cursor.decode("ct.bm9wZQ")
