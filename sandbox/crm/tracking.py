"""Dataverse change tracking on versions and tombstones.

A delta token is ``<version>!<MM/dd/yyyy HH:mm:ss>`` (the shape real Dataverse tokens have): the highest
version the client has seen and when the token was issued (UTC). A full load returns the rows with versions
up to a watermark taken when it started; a delta returns rows with versions above the token's (current state,
once each, by version), then the tombstones of rows deleted since. Rows changed while a client pages through
a load get versions above the watermark and so come in the next delta: nothing is missed.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet, quote_ident

_TOKEN = re.compile(r"^(\d+)!(\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2})$")
EXPIRED_MESSAGE = "Version stamp associated with the client has expired. Please perform a full sync."


def make_token(version: int, issued: datetime | None = None) -> str:
    issued = issued or datetime.now(UTC)
    return f"{version}!{issued.strftime('%m/%d/%Y %H:%M:%S')}"


def read_token(token: str, current_version: int, ttl_s: float, now: datetime | None = None) -> int:
    """The version a delta token stands for; unknown or expired -> Dataverse's ExpiredVersionStamp error."""
    m = _TOKEN.match(token.strip())
    if not m:
        raise expired()
    version = int(m.group(1))
    issued = datetime.strptime(m.group(2), "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - issued).total_seconds()
    if version > current_version or age > ttl_s or age < -300:
        raise expired()
    return version


def expired() -> ODataError:
    return ODataError(400, EXPIRED_MESSAGE, codes.EXPIRED_VERSION_STAMP)


@dataclass
class Cursor:
    """Where a paged tracking response goes on: versions (low, high], after ``last`` in ``phase``."""

    low: int
    high: int
    last: int = 0
    phase: str = "rows"  # rows, then deleted (deltas only)
    delta: bool = False

    def encode(self) -> str:
        raw = json.dumps({"l": self.low, "h": self.high, "v": self.last, "p": self.phase, "d": self.delta})
        return "ct." + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            text = token.removeprefix("ct.")
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            return cls(int(data["l"]), int(data["h"]), int(data["v"]), str(data["p"]), bool(data["d"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ODataError(400, "The $skiptoken is not valid.", codes.QUERY_NOT_SUPPORTED) from exc


@dataclass
class TrackPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    next: Cursor | None = None


def track_page(conn: sqlite3.Connection, entity: EntitySet, columns: list[str], cursor: Cursor, size: int) -> TrackPage:
    page = TrackPage()
    table = quote_ident(entity.table)
    if cursor.phase == "rows":
        cols = ", ".join(quote_ident(c) for c in columns)
        after = max(cursor.low, cursor.last)
        cur = conn.execute(
            f'SELECT {cols} FROM {table} WHERE "versionnumber" > ? AND "versionnumber" <= ? '
            f'ORDER BY "versionnumber" LIMIT ?',
            (after, cursor.high, size + 1),
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        if len(rows) > size:
            page.rows = rows[:size]
            page.next = Cursor(cursor.low, cursor.high, rows[size - 1]["versionnumber"], "rows", cursor.delta)
            return page
        page.rows = rows
        if not cursor.delta:
            return page
        cursor = Cursor(cursor.low, cursor.high, 0, "deleted", True)
    room = size - len(page.rows)
    pk = quote_ident(entity.key[0])
    after = max(cursor.low, cursor.last)
    deleted = conn.execute(
        f"SELECT t.id, MAX(t.versionnumber) AS v FROM crm_tombstones t WHERE t.entity = ? "
        f"AND t.versionnumber > ? AND t.versionnumber <= ? "
        f"AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.{pk} = t.id) "
        f"GROUP BY t.id ORDER BY v LIMIT ?",
        (entity.name, after, cursor.high, room + 1),
    ).fetchall()
    if len(deleted) > room:
        deleted = deleted[:room]
        page.next = (
            Cursor(cursor.low, cursor.high, deleted[-1][1], "deleted", True)
            if deleted
            else Cursor(cursor.low, cursor.high, after, "deleted", True)
        )
    page.deleted = [d[0] for d in deleted]
    return page
