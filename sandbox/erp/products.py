"""One released product, three entity sets: how the ERP store keeps them together.

In FinOps a released product is one item (InventTable and friends) that several data entities show. The
sandbox serves three of them, each with its real key and properties:

    CDSReleasedDistinctProducts (dataAreaId, ProductNumber)  the product's data; create and delete it here
    ProductDefaultOrderSettings (dataAreaId, ItemNumber)     IsSalesProcessingStopped ("sales stopped")
    ReleasedProductsV2          (dataAreaId, ItemNumber)     SellStartDate, SellEndDate

Creating a CDSReleasedDistinctProducts row creates the other two (ItemNumber is the ProductNumber when not
given); deleting it deletes them; a property that two of them share (same name, same type) is copied to the
others whenever one is written. The two followers cannot be created or deleted on their own (stricter than
FinOps, where ReleasedProductsV2 can create a product: p2c never does, and one way in is easier to keep true).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.catalog import empty_value
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet
from p2c.sandbox.odata.sqlite import delete, fetch_one, update

if TYPE_CHECKING:
    from p2c.sandbox.erp.store import ErpStore

ITEM = "ItemNumber"
PRODUCT = "ProductNumber"


def check_product_write(entity: EntitySet, method: str) -> None:
    """A follower (order settings, ReleasedProductsV2) is never created or deleted on its own."""
    if entity in E.PRODUCT_PARTS:
        raise ODataError(
            405,
            f"{method} on {entity.name} is not supported by the sandbox: create or delete the product in "
            f"{E.RELEASED_PRODUCTS.name}; its {entity.name} row comes and goes with it.",
            "",
        )


def _shared(source: EntitySet, target: EntitySet, row: dict[str, Any]) -> dict[str, Any]:
    """The values of ``row`` for the properties ``target`` has with the same name and type (keys aside)."""
    out = {}
    for f in source.fields:
        other = target.get(f.name)
        if other is not None and other.edm_type == f.edm_type and f.name not in target.key and f.name in row:
            out[f.name] = row[f.name]
    return out


def _parts_of(company: str, item: str) -> list[tuple[EntitySet, dict[str, Any]]]:
    return [(part, {E.COMPANY: company, ITEM: item}) for part in E.PRODUCT_PARTS]


def after_product_write(store: ErpStore, entity: EntitySet, row: dict[str, Any]) -> None:
    """Bring the product's other entity sets in line with the row just written to ``entity``."""
    conn = store.conn
    if entity is E.RELEASED_PRODUCTS:
        key = {E.COMPANY: row[E.COMPANY], PRODUCT: row[PRODUCT]}
        if not row.get(ITEM):
            row[ITEM] = row[PRODUCT]
            update(conn, entity, key, {ITEM: row[ITEM]})
        for part, part_key in _parts_of(row[E.COMPANY], row[ITEM]):
            values = {**part_key, **_shared(entity, part, row)}
            existing = fetch_one(conn, part, part_key)
            if existing is None:
                values.update(
                    {f.name: empty_value(f) for f in part.fields if (not f.nullable or f.enum) and f.name not in values}
                )
                if PRODUCT in part.by_name:
                    values[PRODUCT] = row[PRODUCT]
            store.write_raw(part, values)
        return
    if entity in E.PRODUCT_PARTS:
        found = conn.execute(
            'SELECT "ProductNumber" FROM cdsreleaseddistinctproducts WHERE "dataAreaId" = ? AND "ItemNumber" = ?',
            (row[E.COMPANY], row[ITEM]),
        ).fetchone()
        if found is not None:
            changes = _shared(entity, E.RELEASED_PRODUCTS, row)
            changes.pop(ITEM, None)
            store.write_raw(E.RELEASED_PRODUCTS, {E.COMPANY: row[E.COMPANY], PRODUCT: found[0], **changes})


def before_product_delete(store: ErpStore, entity: EntitySet, row: dict[str, Any]) -> None:
    """Deleting a product deletes its order settings and its ReleasedProductsV2 row."""
    if entity is E.RELEASED_PRODUCTS:
        for part, part_key in _parts_of(row[E.COMPANY], row.get(ITEM) or row[PRODUCT]):
            delete(store.conn, part, part_key)
