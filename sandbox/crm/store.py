"""The CRM store: Dataverse tables on SQLite, written the way Dataverse writes them.

Every write sets ``modifiedon``, ``_modifiedby_value`` and a new ``versionnumber`` from one counter for the
whole organization (Dataverse's rowversion), so versions grow across tables. A delete leaves a tombstone
(entity, id, version) for change tracking. The P2C solution's plug-in behaviour is reproduced where p2c
relies on it: generated ``ACC-``/``CON-``/``QUO-`` numbers, quote line amounts and flags, the
"externally maintained products only" flag of a quote, "is active customer" on contacts that have quotes.
"""

from __future__ import annotations

import random
import sqlite3
import string
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.customization import Customization
from p2c.sandbox.crm.payload import key_of, to_columns
from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet, quote_ident
from p2c.sandbox.odata.sqlite import Database, delete, fetch_one, insert, update
from p2c.sandbox.odata.values import iso_ms, now_ms

USER_NAMESPACE = uuid.UUID("5c0a5d1e-7b1e-4c3a-9f4e-2d8c1b6a0e11")
VERSION = "versionnumber"
TOMBSTONES = """
CREATE TABLE IF NOT EXISTS crm_tombstones (
    entity TEXT NOT NULL, id TEXT NOT NULL, versionnumber INTEGER NOT NULL, deletedon TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_crm_tombstones ON crm_tombstones (entity, versionnumber);
"""


def application_user_id(client_id: str) -> str:
    """The stable GUID of the application user a client id maps to."""
    return str(uuid.uuid5(USER_NAMESPACE, f"application-user:{client_id}"))


SEED_USER_ID = str(uuid.uuid5(USER_NAMESPACE, "user:sales.admin"))
#: (statecode, statuscode) of a new row where it is not Active/1: products start in Draft (product.md: state 2
#: Draft, status 0 Draft), price lists are Active with status 100001 (pricelevel.md)
INITIAL_STATE = {"product": (2, 0), "pricelevel": (0, 100001)}
ACTIVE_PRODUCT = (0, 1)
RETIRED_PRODUCT = (1, 2)


@dataclass(frozen=True)
class Tenant:
    """How a new data directory starts: what its makers did not set up, and the Sales product setting."""

    untracked: tuple[str, ...] = ()  # tables without change tracking
    without_keys: tuple[str, ...] = ()  # tables without the alternate key p2c upserts by
    #: Sales' "create products in active state" (off in a standard organization: products start in Draft)
    products_active: bool = False
    #: seconds a new alternate key's index stays Pending
    key_activation_s: float = 1.0


class CrmStore:
    def __init__(self, data_dir: Path, tenant: Tenant | None = None) -> None:
        self.db = Database(Path(data_dir) / "crm.sqlite")
        self.conn = self.db.conn
        self.rng = random.Random()
        tenant = tenant or Tenant()
        with self.db.transaction():
            for stmt in TOMBSTONES.strip().split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            for entity in E.ALL:
                self.db.create_table(entity)
                self.db.index(entity, VERSION)
            self.db.index(E.QUOTEDETAILS, "_quoteid_value")
            self.db.index(E.CONTACTS, "_parentcustomerid_value")
            if self.db.meta("crm:products_active") is None:
                self.db.set_meta("crm:products_active", "1" if tenant.products_active else "0")
        self.custom = Customization(self.db, E.BY_LOGICAL, tenant.key_activation_s)
        self.custom.initialize(tenant.untracked, tenant.without_keys)
        self.products_active = self.db.meta("crm:products_active") == "1"

    def close(self) -> None:
        self.db.close()

    # -- users ------------------------------------------------------------------------------------------

    def ensure_user(self, user_id: str, fullname: str, application_id: str | None) -> None:
        with self.db.transaction():
            if fetch_one(self.conn, E.SYSTEMUSERS, {"systemuserid": user_id}) is None:
                cols = {
                    "systemuserid": user_id,
                    "fullname": fullname,
                    "isdisabled": 0,
                    "applicationid": application_id,
                    "accessmode": 4 if application_id else 0,
                    "domainname": f"{fullname.lower().replace(' ', '.')}@sandbox.local",
                }
                self.insert_row(E.SYSTEMUSERS, cols, user_id)

    # -- reads ------------------------------------------------------------------------------------------

    def get(self, entity: EntitySet, key: Any) -> dict[str, Any] | None:
        return fetch_one(self.conn, entity, key_of(entity, key, self.custom))

    # -- writes -----------------------------------------------------------------------------------------

    def create(self, entity: EntitySet, body: dict[str, Any], user: str) -> dict[str, Any]:
        with self.db.transaction():
            cols = to_columns(entity, body, self.conn, self.custom, creating=True)
            return self.insert_row(entity, cols, user)

    def upsert(
        self,
        entity: EntitySet,
        key: Any,
        body: dict[str, Any],
        user: str,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[bool, dict[str, Any]]:
        """PATCH semantics: update the row with ``key``, or create it; (created, row)."""
        with self.db.transaction():
            where = key_of(entity, key, self.custom)
            existing = fetch_one(self.conn, entity, where)
            if existing is None:
                if if_match is not None:
                    raise _not_found(entity, where)
                cols = to_columns(entity, body, self.conn, self.custom, creating=True)
                for name, value in where.items():
                    if name in cols and cols[name] != value and name == entity.key[0]:
                        raise ODataError(
                            400, f"The key '{name}' in the body differs from the URL.", codes.INVALID_ARGUMENT
                        )
                    cols[name] = value
                return True, self.insert_row(entity, cols, user)
            if if_none_match == "*":
                raise ODataError(412, "A record with matching key values already exists.", codes.DUPLICATE_RECORD)
            check_etag(existing, if_match)
            cols = to_columns(entity, body, self.conn, self.custom, creating=False)
            cols.pop(entity.key[0], None)
            return False, self.update_row(entity, existing, cols, user)

    def delete(self, entity: EntitySet, key: Any, user: str, if_match: str | None = None) -> None:
        with self.db.transaction():
            where = key_of(entity, key, self.custom)
            existing = fetch_one(self.conn, entity, where)
            if existing is None:
                raise _not_found(entity, where)
            check_etag(existing, if_match)
            self.delete_row(entity, existing, user)

    # -- row level, inside a transaction -----------------------------------------------------------------

    def _stamp(self, cols: dict[str, Any], user: str) -> None:
        now = iso_ms(now_ms())
        cols["modifiedon"] = now
        cols["_modifiedby_value"] = user
        cols[VERSION] = self.db.next_counter(VERSION)

    def insert_row(self, entity: EntitySet, cols: dict[str, Any], user: str) -> dict[str, Any]:
        pk = entity.key[0]
        cols[pk] = cols.get(pk) or str(uuid.uuid4())
        if entity.name in E.NUMBERS:
            field, prefix, start = E.NUMBERS[entity.name]
            if not cols.get(field):
                cols[field] = self._number(field, prefix, start)
        if entity.name == "products" and not cols.get("productnumber"):
            raise ODataError(
                400, "Product ID (productnumber) is required: 'productnumber' must be set.", codes.INVALID_ARGUMENT
            )
        if entity.get("statecode") is not None:
            cols.setdefault("statecode", INITIAL_STATE.get(entity.logical_name, (0, 1))[0])
            cols.setdefault("statuscode", INITIAL_STATE.get(entity.logical_name, (0, 1))[1])
            if entity is E.PRODUCTS and self.products_active:
                cols["statecode"], cols["statuscode"] = ACTIVE_PRODUCT
        self._before_write(entity, cols, None)
        self._stamp(cols, user)
        cols["createdon"] = cols["modifiedon"]
        cols["_createdby_value"] = user
        try:
            row = insert(self.conn, entity, cols)
        except sqlite3.IntegrityError as exc:
            raise ODataError(412, "A record with matching key values already exists.", codes.DUPLICATE_RECORD) from exc
        self._after_write(entity, row, None, user)
        return row

    def update_row(
        self, entity: EntitySet, existing: dict[str, Any], cols: dict[str, Any], user: str
    ) -> dict[str, Any]:
        pk = entity.key[0]
        self._before_write(entity, cols, existing)
        self._stamp(cols, user)
        try:
            row = update(self.conn, entity, {pk: existing[pk]}, cols)
        except sqlite3.IntegrityError as exc:
            raise ODataError(412, "A record with matching key values already exists.", codes.DUPLICATE_RECORD) from exc
        assert row is not None
        self._after_write(entity, row, existing, user)
        return row

    def delete_row(self, entity: EntitySet, row: dict[str, Any], user: str) -> None:
        pk = entity.key[0]
        if entity is E.QUOTES:
            for line in self.conn.execute(
                'SELECT * FROM quotedetails WHERE "_quoteid_value" = ?', (row[pk],)
            ).fetchall():
                self.delete_row(E.QUOTEDETAILS, dict(zip(self._columns(E.QUOTEDETAILS), line, strict=True)), user)
        delete(self.conn, entity, {pk: row[pk]})
        self.conn.execute(
            "INSERT INTO crm_tombstones (entity, id, versionnumber, deletedon) VALUES (?, ?, ?, ?)",
            (entity.name, row[pk], self.db.next_counter(VERSION), iso_ms(now_ms())),
        )
        self._remove_links(entity, row[pk], user)
        if entity is E.QUOTEDETAILS and row.get("_quoteid_value"):
            self._refresh_quote(row["_quoteid_value"], user)

    def _columns(self, entity: EntitySet) -> list[str]:
        cur = self.conn.execute(f"SELECT * FROM {quote_ident(entity.table)} LIMIT 0")
        return [d[0] for d in cur.description]

    def _remove_links(self, entity: EntitySet, row_id: str, user: str) -> None:
        """Lookups to a deleted row are cleared (Dataverse's 'remove link' cascade)."""
        for other in E.ALL:
            for f in other.lookups:
                if entity.logical_name not in f.targets or f.readonly:
                    continue
                opk = other.key[0]
                sql = f"SELECT * FROM {quote_ident(other.table)} WHERE {quote_ident(f.name)} = ?"
                for values in self.conn.execute(sql, (row_id,)).fetchall():
                    linked = dict(zip(self._columns(other), values, strict=True))
                    if linked[opk] == row_id and other is entity:
                        continue
                    cols: dict[str, Any] = {f.name: None}
                    if f.polymorphic:
                        cols[f.type_column] = None
                    self.update_row(other, linked, cols, user)

    def _number(self, field: str, prefix: str, start: int) -> str:
        n = self.db.next_counter(f"number:{field}", start)
        suffix = "".join(self.rng.choices(string.ascii_uppercase, k=6))
        return f"{prefix}-{n:05d}-{suffix}"

    # -- the P2C solution's plug-ins -----------------------------------------------------------------------

    def publish_product(self, product_id: str, user: str) -> dict[str, Any]:
        """``PublishProductHierarchy``: a Draft (or Under Revision) product becomes Active."""
        with self.db.transaction():
            row = fetch_one(self.conn, E.PRODUCTS, {"productid": product_id})
            if row is None:
                raise _not_found(E.PRODUCTS, {"productid": product_id})
            if row["statecode"] == RETIRED_PRODUCT[0]:
                raise ODataError(
                    400, f"The product {row['productnumber']} is retired: activate it instead.", codes.INVALID_ARGUMENT
                )
            if (row["statecode"], row["statuscode"]) == ACTIVE_PRODUCT:
                return row
            state, status = ACTIVE_PRODUCT
            cols = {"statecode": state, "statuscode": status}
            self._stamp(cols, user)
            update(self.conn, E.PRODUCTS, {"productid": product_id}, cols)
            published = fetch_one(self.conn, E.PRODUCTS, {"productid": product_id})
            assert published is not None
            return published

    def _before_write(self, entity: EntitySet, cols: dict[str, Any], existing: dict[str, Any] | None) -> None:
        draft = existing is not None and existing.get("statecode") in (2, 3)  # Draft, Under Revision
        if entity is E.PRODUCTS and existing is not None and draft and cols.get("statecode") == 0:
            raise ODataError(
                400,
                f"The product {existing['productnumber']} is in Draft: publish it with the "
                f"PublishProductHierarchy action; an update cannot make it active.",
                codes.INVALID_ARGUMENT,
            )
        if entity is E.CONTACTS and "parentcustomerid__type" in cols:
            cols["msdynce_iscompanyanaccount"] = 1 if cols["parentcustomerid__type"] == E.ACCOUNT else 0
        if entity is E.QUOTEDETAILS:
            self._line_values(cols, existing)

    def _line_values(self, cols: dict[str, Any], existing: dict[str, Any] | None) -> None:
        merged = {**(existing or {}), **cols}
        quote_id = merged.get("_quoteid_value")
        if existing is None:
            if not quote_id:
                raise ODataError(400, "A quote line needs its quote: set 'quoteid@odata.bind'.", codes.INVALID_ARGUMENT)
            if cols.get("sequencenumber") is None:
                row = self.conn.execute(
                    'SELECT COALESCE(MAX("sequencenumber"), 0) + 1 FROM quotedetails WHERE "_quoteid_value" = ?',
                    (quote_id,),
                ).fetchone()
                cols["sequencenumber"] = row[0]
            cols.setdefault("lineitemnumber", cols["sequencenumber"])
        product_id = merged.get("_productid_value")
        if product_id:
            product = fetch_one(self.conn, E.PRODUCTS, {"productid": product_id})
            if product is not None and product["statecode"] != 0 and "_productid_value" in cols:
                state = {1: "retired", 2: "in Draft", 3: "under revision"}.get(product["statecode"], "not active")
                raise ODataError(
                    400,
                    f"The product {product['productnumber']} is {state}: only an active (published) product can be "
                    f"added to a quote.",
                    codes.INVALID_ARGUMENT,
                )
            cols["msdynce_ismaintainedexternally"] = int(bool(product and product["msdynce_ismaintainedexternally"]))
            cols["isproductoverridden"] = 0
        else:
            cols["msdynce_ismaintainedexternally"] = 0
            cols["isproductoverridden"] = 1
        quantity = float(merged.get("quantity") or 0)
        price = float(merged.get("priceperunit") or 0)
        base = round(quantity * price, 4)
        cols["baseamount"] = base
        cols["extendedamount"] = round(base - float(merged.get("manualdiscountamount") or 0), 4)

    def _after_write(self, entity: EntitySet, row: dict[str, Any], before: dict[str, Any] | None, user: str) -> None:
        if entity is E.QUOTEDETAILS:
            self._refresh_quote(row["_quoteid_value"], user)
            if before and before.get("_quoteid_value") not in (None, row["_quoteid_value"]):
                self._refresh_quote(before["_quoteid_value"], user)
        elif entity is E.QUOTES and before is not None and before["statecode"] != row["statecode"]:
            self._mirror_lines(row, user)
        if entity is E.QUOTES and row.get("customerid__type") == E.CONTACT and row.get("_customerid_value"):
            contact = fetch_one(self.conn, E.CONTACTS, {"contactid": row["_customerid_value"]})
            if contact and not contact["msdynce_isactivecustomer"]:
                self.update_row(E.CONTACTS, contact, {"msdynce_isactivecustomer": 1}, user)

    def _refresh_quote(self, quote_id: str, user: str) -> None:
        """Quote total and 'has externally maintained products only', kept as the P2C plug-ins keep them."""
        quote = fetch_one(self.conn, E.QUOTES, {"quoteid": quote_id})
        if quote is None:
            return
        total, lines, external = self.conn.execute(
            'SELECT COALESCE(SUM("extendedamount"), 0), COUNT(*), COALESCE(SUM("msdynce_ismaintainedexternally"), 0) '
            'FROM quotedetails WHERE "_quoteid_value" = ?',
            (quote_id,),
        ).fetchone()
        only = 1 if lines and external == lines else 0
        changes = {"totalamount": round(float(total), 4), "msdynce_hasexternallymaintainedproductsonly": only}
        if any(quote[k] != v for k, v in changes.items()):
            quote = self.update_row(E.QUOTES, quote, changes, user)
        self._mirror_lines(quote, user)

    def _mirror_lines(self, quote: dict[str, Any], user: str) -> None:
        """What a line mirrors of its quote: the flag and the quote's state (``quotestatecode``)."""
        only, state = quote["msdynce_hasexternallymaintainedproductsonly"], quote["statecode"]
        stale = self.conn.execute(
            'SELECT "quotedetailid" FROM quotedetails WHERE "_quoteid_value" = ? '
            'AND ("msdynce_quotehasexternalmaintainedproductsonly" IS NOT ? OR "quotestatecode" IS NOT ?)',
            (quote["quoteid"], only, state),
        ).fetchall()
        for (line_id,) in stale:  # a plain update: no plug-in runs again
            cols = {"msdynce_quotehasexternalmaintainedproductsonly": only, "quotestatecode": state}
            self._stamp(cols, user)
            update(self.conn, E.QUOTEDETAILS, {"quotedetailid": line_id}, cols)


def check_etag(row: dict[str, Any], if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    tags = [t.strip() for t in if_match.split(",")]
    if etag(row) not in tags:
        raise ODataError(
            412,
            "The version of the existing record doesn't match the RowVersion property provided.",
            codes.CONCURRENCY_VERSION_MISMATCH,
        )


def etag(row: dict[str, Any]) -> str:
    return f'W/"{row[VERSION]}"'


def _not_found(entity: EntitySet, where: dict[str, Any]) -> ODataError:
    keytext = ",".join(f"{k}={v}" for k, v in where.items())
    if list(where) == list(entity.key):
        return ODataError(
            404,
            f"{entity.logical_name} With Id = {keytext.split('=', 1)[1]} Does Not Exist",
            codes.OBJECT_DOES_NOT_EXIST,
        )
    return ODataError(
        404,
        f"A record with the specified key values does not exist in {entity.logical_name} entity",
        codes.OBJECT_DOES_NOT_EXIST,
    )
