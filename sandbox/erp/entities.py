"""The FinOps data entities the ERP sandbox serves, built from the real metadata (``catalog``).

Every key, property, type, nullability and enum comes from ``sandbox/data/finops.json``. Only the entity type
names and the AOT table names (which FinOps's write errors name) are spelled here.

Business entities: customers, contact persons, sales quotation headers and lines, and the released product
seen through three entity sets that share one product (``CDSReleasedDistinctProducts`` for its data,
``ProductDefaultOrderSettings`` for its "sales stopped" flag, ``ReleasedProductsV2`` for its sell dates).
None of them has a change column: the real ones do not.
"""

from __future__ import annotations

from p2c.sandbox.erp.catalog import entity_set
from p2c.sandbox.odata.model import EntitySet

COMPANY = "dataAreaId"

CUSTOMERS = entity_set("CustomersV3", "CustomerV3", "CustCustomerV3Entity", "Customers")
CONTACTS = entity_set("CDSContactPersonsV2", "CDSContactPersonV2", "SmmContactPersonCDSV2Entity", "Contact persons")
QUOTATION_HEADERS = entity_set(
    "CDSSalesQuotationHeaders", "CDSSalesQuotationHeader", "SalesQuotationHeaderCDSEntity", "Sales quotations"
)
QUOTATION_LINES = entity_set(
    "CDSSalesQuotationLines", "CDSSalesQuotationLine", "SalesQuotationLineCDSEntity", "Sales quotation lines"
)
RELEASED_PRODUCTS = entity_set(
    "CDSReleasedDistinctProducts",
    "CDSReleasedDistinctProduct",
    "EcoResReleasedDistinctProductCDSEntity",
    "Released products",
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
