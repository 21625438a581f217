"""The FinOps data entities the ERP sandbox serves, built from the real metadata (``catalog``).

Every key, property, type, nullability and enum comes from ``sandbox/data/finops.json``. Only the entity type
names and the AOT table names (which FinOps's write errors name) are spelled here.

Business entities: customers, contact persons, sales quotation headers and lines, and the released product
seen through three entity sets that share one product (``CDSReleasedDistinctProducts`` for its data,
``ProductDefaultOrderSettings`` for its "sales stopped" flag, ``ReleasedProductsV2`` for its sell dates).
None of them has a change column: the real ones do not. An environment's own extension fields, named in a
file (``p2c sandbox erp --extension-fields FILE``, :mod:`p2c.sandbox.tenant_columns`), are added to the business
entities, as a real environment serves them beside the standard properties.
"""

from __future__ import annotations

from dataclasses import replace

from p2c.sandbox.erp.catalog import entity_set
from p2c.sandbox.odata.model import EntitySet, Field, Type
from p2c.sandbox.tenant_columns import erp_fields

COMPANY = "dataAreaId"
EXTENSION_TYPES = {
    "String": Type.STRING,
    "Int32": Type.INT,
    "Int64": Type.BIGINT,
    "Decimal": Type.DECIMAL,
    "Boolean": Type.BOOL,
}


def _extended(entity: EntitySet) -> EntitySet:
    """``entity`` with the environment's extension fields on it (:mod:`p2c.sandbox.tenant_columns`)."""
    extra = [Field(name, EXTENSION_TYPES[kind]) for name, kind in erp_fields(entity.name)]
    clash = [f.name for f in extra if f.name in entity.by_name]
    if clash:
        raise ValueError(f"extension fields {clash} of {entity.name}: the entity has fields of those names")
    return replace(entity, fields=entity.fields + tuple(extra), by_name={}) if extra else entity


CUSTOMERS = _extended(entity_set("CustomersV3", "CustomerV3", "CustCustomerV3Entity", "Customers"))
CONTACTS = _extended(
    entity_set("CDSContactPersonsV2", "CDSContactPersonV2", "SmmContactPersonCDSV2Entity", "Contact persons")
)
QUOTATION_HEADERS = _extended(
    entity_set(
        "CDSSalesQuotationHeaders", "CDSSalesQuotationHeader", "SalesQuotationHeaderCDSEntity", "Sales quotations"
    )
)
QUOTATION_LINES = _extended(
    entity_set(
        "CDSSalesQuotationLines", "CDSSalesQuotationLine", "SalesQuotationLineCDSEntity", "Sales quotation lines"
    )
)
RELEASED_PRODUCTS = _extended(
    entity_set(
        "CDSReleasedDistinctProducts",
        "CDSReleasedDistinctProduct",
        "EcoResReleasedDistinctProductCDSEntity",
        "Released products",
    )
)
ORDER_SETTINGS = entity_set(
    "ProductDefaultOrderSettings",
    "ProductDefaultOrderSetting",
    "EcoResProductDefaultOrderSettingsEntity",
    "Default order settings",
)
RELEASED_PRODUCTS_V2 = entity_set(
    "ReleasedProductsV2", "ReleasedProductV2", "EcoResReleasedProductV2Entity", "Released products V2"
)

CUSTOMER_GROUPS = entity_set("CustomerGroups", "CustomerGroup", "CustCustomerGroupEntity", "Customer groups")
CURRENCIES = entity_set("Currencies", "Currency", "CurrencyEntity", "Currencies")
UNITS = entity_set("UnitsOfMeasure", "UnitOfMeasure", "UnitOfMeasureEntity", "Units")
LEGAL_ENTITIES = entity_set("LegalEntities", "LegalEntity", "OMLegalEntity", "Legal entities")
LEDGERS = entity_set("Ledgers", "Ledger", "LedgerEntity", "Ledgers")
COUNTRIES = entity_set(
    "AddressCountryRegions", "AddressCountryRegion", "LogisticsAddressCountryRegionEntity", "Countries/regions"
)
LANGUAGES = entity_set("LanguageCodes", "LanguageCode", "LanguageCodeEntity", "Languages")

#: the product's entity sets that follow its CDSReleasedDistinctProducts row (keyed by its ItemNumber)
PRODUCT_PARTS: tuple[EntitySet, ...] = (ORDER_SETTINGS, RELEASED_PRODUCTS_V2)
BUSINESS: tuple[EntitySet, ...] = (
    CUSTOMERS,
    CONTACTS,
    QUOTATION_HEADERS,
    QUOTATION_LINES,
    RELEASED_PRODUCTS,
    *PRODUCT_PARTS,
)
REFERENCE: tuple[EntitySet, ...] = (CUSTOMER_GROUPS, CURRENCIES, UNITS, LEGAL_ENTITIES, LEDGERS, COUNTRIES, LANGUAGES)
ALL = BUSINESS + REFERENCE
BY_SET = {e.name: e for e in ALL}


def company_specific(entity: EntitySet) -> bool:
    return COMPANY in entity.by_name
