"""The ERP store: FinOps data entities on SQLite, written the way FinOps writes them.

POST creates (an existing key is an error: "The record already exists"), PATCH updates an existing row
(FinOps PATCH never creates), DELETE removes. Each write validates the whole resulting row and stamps
``ModifiedDateTime`` from a per-store clock that never repeats or goes back, so a poller that keeps a
modified-time watermark sees every write.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.refdata import DEFAULT_COMPANY, ensure_reference_data
from p2c.sandbox.erp.validation import validate
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet, Type
from p2c.sandbox.odata.sqlite import Database, delete, fetch_one, insert, update
from p2c.sandbox.odata.values import ValueError_, iso_ms, iso_to_ms, now_ms, to_db

WRITE_EXCEPTION = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"


def write_failed(entity: EntitySet, errors: list[str], status: int = 400) -> ODataError:
    message = f"Write failed for table row of type '{entity.table_name}'. Infolog: " + " ".join(
        f"Error: {e}" for e in errors
    )
    return ODataError(status, message, "", innererror={"message": message, "type": WRITE_EXCEPTION, "stacktrace": ""})


def bad_request(message: str) -> ODataError:
    return ODataError(
        400, message, "", innererror={"message": message, "type": "Microsoft.OData.ODataException", "stacktrace": ""}
    )


def not_found(entity: EntitySet) -> ODataError:
    return ODataError(404, f"Resource not found for the segment '{entity.name}'.", "")


def etag(row: dict[str, Any]) -> str:
    stamp = row.get(E.MODIFIED)
    version = iso_to_ms(stamp) if stamp else 0
    return 'W/"' + base64.b64encode(f"1,{version}".encode()).decode() + '"'


class ErpStore:
    def __init__(self, data_dir: Path) -> None:
        self.db = Database(Path(data_dir) / "erp.sqlite")
        self.conn = self.db.conn
        with self.db.transaction():
            for entity in E.ALL:
                self.db.create_table(entity)
            for entity in E.BUSINESS:
                self.db.index(entity, E.MODIFIED)
            self.db.index(E.QUOTATION_HEADERS, "dataAreaId", "RequestingCustomerAccountNumber")
        ensure_reference_data(self.db)

    def close(self) -> None:
        self.db.close()

    def key_of(self, entity: EntitySet, key: Any) -> dict[str, Any]:
        if not isinstance(key, dict) or set(key) != set(entity.key):
            raise bad_request(f"The key of {entity.name} is ({', '.join(entity.key)}); all of it must be given.")
        where: dict[str, Any] = {}
        for k in entity.key:
            value = key[k]
            if entity.by_name[k].type is Type.INT:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise bad_request(f"The key value '{value}' of '{k}' is not an integer.")
            elif not isinstance(value, str):
                raise bad_request(f"The key value '{value}' of '{k}' must be a quoted string.")
            where[k] = value
        return where

    def get(self, entity: EntitySet, key: Any) -> dict[str, Any] | None:
        return fetch_one(self.conn, entity, self.key_of(entity, key))

    def columns(self, entity: EntitySet, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@") or "@" in name:
                continue
            field = entity.get(name)
            if field is None:
                raise bad_request(
                    f"The property '{name}' does not exist on type "
                    f"'Microsoft.Dynamics.DataEntities.{entity.logical_name}'."
                )
            if field.readonly:
                continue
            try:
                out[name] = to_db(field, value)
            except ValueError_ as exc:
                raise bad_request(f"An error occurred while reading the payload: {exc}") from exc
        if E.COMPANY in out and isinstance(out[E.COMPANY], str):
            out[E.COMPANY] = out[E.COMPANY].lower()
        return out

    def _stamp(self, entity: EntitySet, row: dict[str, Any]) -> None:
        if entity.get(E.MODIFIED) is not None:
            row[E.MODIFIED] = iso_ms(self.db.next_counter("modified_ms", now_ms()))

    def _check(self, entity: EntitySet, row: dict[str, Any]) -> None:
        if E.COMPANY in entity.by_name:
            company = row.get(E.COMPANY)
            if not fetch_one(self.conn, E.LEGAL_ENTITIES, {"LegalEntityId": company}):
                raise write_failed(entity, [f"Company '{company}' does not exist (field 'dataAreaId')."])
        errors = validate(self.conn, entity, row)
        if errors:
            raise write_failed(entity, errors)

    def create(self, entity: EntitySet, body: dict[str, Any], company: str = DEFAULT_COMPANY) -> dict[str, Any]:
        with self.db.transaction():
            row = self.columns(entity, body)
            if E.COMPANY in entity.by_name:
                row[E.COMPANY] = row.get(E.COMPANY) or company
            for k in entity.key:
                if row.get(k) in (None, ""):
                    raise write_failed(entity, [f"Field '{k}' must be filled in."])
            self._check(entity, row)
            self._stamp(entity, row)
            try:
                insert(self.conn, entity, row)
            except sqlite3.IntegrityError as exc:
                keys = ", ".join(f"{row[k]}" for k in entity.key)
                raise write_failed(
                    entity,
                    [
                        f"Cannot create a record in {entity.label or entity.name} "
                        f"({entity.table_name}): {keys}. The record already exists."
                    ],
                ) from exc
            created = fetch_one(self.conn, entity, {k: row[k] for k in entity.key})
            assert created is not None
            return created

    def update(self, entity: EntitySet, key: Any, body: dict[str, Any], if_match: str | None = None) -> dict[str, Any]:
        with self.db.transaction():
            where = self.key_of(entity, key)
            existing = fetch_one(self.conn, entity, where)
            if existing is None:
                raise not_found(entity)
            check_etag(existing, if_match)
            changes = self.columns(entity, body)
            for k in entity.key:
                if k in changes and str(changes[k]).lower() != str(existing[k]).lower():
                    raise bad_request(f"The key field '{k}' cannot be changed.")
                changes.pop(k, None)
            merged = {**existing, **changes}
            self._check(entity, merged)
            self._stamp(entity, changes)
            update(self.conn, entity, where, changes)
            row = fetch_one(self.conn, entity, where)
            assert row is not None
            return row

    def delete(self, entity: EntitySet, key: Any, if_match: str | None = None) -> None:
        with self.db.transaction():
            where = self.key_of(entity, key)
            existing = fetch_one(self.conn, entity, where)
            if existing is None:
                raise not_found(entity)
            check_etag(existing, if_match)
            if entity is E.CUSTOMERS:
                used = self.conn.execute(
                    'SELECT COUNT(*) FROM cdssalesquotationheaders WHERE "dataAreaId" = ? '
                    'AND ("RequestingCustomerAccountNumber" = ? OR "InvoiceCustomerAccountNumber" = ?)',
                    (existing["dataAreaId"], existing["CustomerAccount"], existing["CustomerAccount"]),
                ).fetchone()[0]
                if used:
                    raise write_failed(
                        entity,
                        [
                            f"The customer '{existing['CustomerAccount']}' cannot be deleted: "
                            f"it is used on {used} sales quotation(s)."
                            " Put the customer on hold (OnHoldStatus = All) instead.",
                        ],
                    )
            if entity is E.QUOTATION_HEADERS:
                self.conn.execute(
                    'DELETE FROM cdssalesquotationlines WHERE "dataAreaId" = ? AND "SalesQuotationNumber" = ?',
                    (existing["dataAreaId"], existing["SalesQuotationNumber"]),
                )
            delete(self.conn, entity, where)


def check_etag(row: dict[str, Any], if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    if etag(row) not in [t.strip() for t in if_match.split(",")]:
        raise ODataError(412, "The record has been updated by another user: the ETag does not match.", "")
