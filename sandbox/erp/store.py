"""The ERP store: FinOps data entities on SQLite, written the way FinOps writes them.

POST creates (an existing key is an error: "The record already exists"), PATCH updates an existing row
(FinOps PATCH never creates), DELETE removes. Each write validates the whole resulting row. A property the
entity lacks is refused by name; a ``DateTimeOffset`` needs a time and an offset; an enum travels as a member
name; a non-nullable property or an enum left out of a create gets FinOps's empty value (0,
``1900-01-01T00:00:00Z``, the enum's first member: X++ enums are never null) and an explicit null for a
non-nullable property is refused.

Each row keeps a hidden record version (``__rv``) for its ETag, as FinOps keeps RecVersion: it is not an
OData property, so nobody can select, filter or poll on it. Contact persons get their party number from the
store (``ContactPersonPartyNumber``), as FinOps assigns it. A released product's default order settings and
ReleasedProductsV2 row come and go with its CDSReleasedDistinctProducts row (``products``).
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.catalog import empty_value
from p2c.sandbox.erp.products import after_product_write, before_product_delete, check_product_write
from p2c.sandbox.erp.refdata import DEFAULT_COMPANY, ensure_reference_data
from p2c.sandbox.erp.validation import validate
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet, Field, Type
from p2c.sandbox.odata.sqlite import Database, delete, exists, fetch_one, insert, update
from p2c.sandbox.odata.values import ValueError_, to_db

RECORD_VERSION = "__rv"
PARTY_NUMBER = "ContactPersonPartyNumber"

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
    version = row.get(RECORD_VERSION) or 0
    return 'W/"' + base64.b64encode(f"1,{version}".encode()).decode() + '"'


class ErpStore:
    def __init__(self, data_dir: Path) -> None:
        self.db = Database(Path(data_dir) / "erp.sqlite")
        self.conn = self.db.conn
        with self.db.transaction():
            for entity in E.ALL:
                self.db.create_table(entity, [f"{RECORD_VERSION} INTEGER"])
            self.db.index(E.QUOTATION_HEADERS, "dataAreaId", "RequestingCustomerAccountNumber")
            self.db.index(E.CONTACTS, "dataAreaId", "ContactPersonId")
            self.db.index(E.RELEASED_PRODUCTS, "dataAreaId", "ItemNumber")
        ensure_reference_data(self.db)

    def close(self) -> None:
        self.db.close()

    def key_of(self, entity: EntitySet, key: Any) -> dict[str, Any]:
        if not isinstance(key, dict) or set(key) != set(entity.key):
            raise bad_request(f"The key of {entity.name} is ({', '.join(entity.key)}); all of it must be given.")
        where: dict[str, Any] = {}
        for k in entity.key:
            value = key[k]
            field = entity.by_name[k]
            if field.enum:
                value = _enum_key(field, value)
            elif field.type is Type.INT:
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
            if value is None and not field.nullable:
                raise bad_request(
                    "An error occurred while reading the payload: "
                    f"A null value was found for the property named '{name}', which has the expected type "
                    f"'{field.edm_type}[Nullable=False]'. The expected type does not allow null values."
                )
            try:
                out[name] = to_db(field, value, strict_datetime=True)
            except ValueError_ as exc:
                raise bad_request(f"An error occurred while reading the payload: {exc}") from exc
        if E.COMPANY in out and isinstance(out[E.COMPANY], str):
            out[E.COMPANY] = out[E.COMPANY].lower()
        return out

    def _stamp(self, row: dict[str, Any]) -> None:
        row[RECORD_VERSION] = self.db.next_counter("recversion")

    def _check(self, entity: EntitySet, row: dict[str, Any]) -> None:
        if E.COMPANY in entity.by_name:
            company = row.get(E.COMPANY)
            if not exists(self.conn, E.LEGAL_ENTITIES, {"LegalEntityId": company}):
                raise write_failed(entity, [f"Company '{company}' does not exist (field 'dataAreaId')."])
        errors = validate(self.conn, entity, row)
        if errors:
            raise write_failed(entity, errors)

    def create(self, entity: EntitySet, body: dict[str, Any], company: str = DEFAULT_COMPANY) -> dict[str, Any]:
        with self.db.transaction():
            row = self.columns(entity, body)
            if E.COMPANY in entity.by_name:
                row[E.COMPANY] = row.get(E.COMPANY) or company
            if entity is E.CONTACTS:
                self._assign_party_number(row)
            check_product_write(entity, "POST")
            for f in entity.fields:
                if (not f.nullable or f.enum) and f.name not in row and f.name not in entity.key:
                    row[f.name] = empty_value(f)
            for k in entity.key:
                if row.get(k) in (None, ""):
                    raise write_failed(entity, [f"Field '{k}' must be filled in."])
            self._check(entity, row)
            self._stamp(row)
            try:
                created = insert(self.conn, entity, row)
            except sqlite3.IntegrityError as exc:
                keys = ", ".join(f"{row[k]}" for k in entity.key)
                raise write_failed(
                    entity,
                    [
                        f"Cannot create a record in {entity.label or entity.name} "
                        f"({entity.table_name}): {keys}. The record already exists."
                    ],
                ) from exc
            after_product_write(self, entity, created)
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
            self._stamp(changes)
            row = update(self.conn, entity, where, changes)
            assert row is not None
            after_product_write(self, entity, row)
            return row

    def delete(self, entity: EntitySet, key: Any, if_match: str | None = None) -> None:
        with self.db.transaction():
            where = self.key_of(entity, key)
            existing = fetch_one(self.conn, entity, where)
            if existing is None:
                raise not_found(entity)
            check_etag(existing, if_match)
            check_product_write(entity, "DELETE")
            before_product_delete(self, entity, existing)
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

    def _assign_party_number(self, row: dict[str, Any]) -> None:
        """FinOps assigns a new contact person's party number; one given by the client is refused."""
        if row.get(PARTY_NUMBER):
            raise write_failed(
                E.CONTACTS,
                [f"Party '{row[PARTY_NUMBER]}' does not exist (field '{PARTY_NUMBER}'): FinOps assigns it."],
            )
        row[PARTY_NUMBER] = f"{self.db.next_counter('party_number', 4000):09d}"

    def write_raw(self, entity: EntitySet, row: dict[str, Any]) -> None:
        """Insert or replace a row the store derives itself (a product's parts), stamped, not validated."""
        self._stamp(row)
        key = {k: row[k] for k in entity.key}
        if fetch_one(self.conn, entity, key) is None:
            insert(self.conn, entity, row)
        else:
            update(self.conn, entity, key, {k: v for k, v in row.items() if k not in entity.key})


def _enum_key(field: Field, value: Any) -> str:
    """An enum key value in a URL is an enum literal: ``Microsoft.Dynamics.DataEntities.NoYes'Yes'``."""
    prefix = field.enum + "'"
    text = value if isinstance(value, str) else ""
    member = text[len(prefix) : -1].replace("''", "'") if text.startswith(prefix) and text.endswith("'") else None
    if member is None or member not in {m for m, _ in field.members}:
        raise bad_request(
            f"The key value '{value}' of '{field.name}' is not a literal of the enum type '{field.enum}' "
            f"(write it as {field.enum}'{field.members[0][0]}')."
        )
    return member


def check_etag(row: dict[str, Any], if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    if etag(row) not in [t.strip() for t in if_match.split(",")]:
        raise ODataError(412, "The record has been updated by another user: the ETag does not match.", "")
