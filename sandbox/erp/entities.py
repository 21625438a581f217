"""FinOps data entities the ERP sandbox serves, with the PascalCase OData field names.

Business entities carry exactly the fields of the Avro contracts (``p2c.tgt.erp.*``, ``p2c.src.erp.*``)
plus ``ModifiedDateTime`` (server-maintained, UTC, millisecond precision, strictly increasing per write) and
``P2CSourceVersion``: an extension field (Int64, nullable) that a real FinOps environment needs added to these
entities, where p2c's sinks record the source version they wrote.
"""

from __future__ import annotations

from dataclasses import replace

from p2c.sandbox.odata.model import EntitySet, Field, Type
from p2c.sandbox.tenant_columns import erp_fields

COMPANY = "dataAreaId"
MODIFIED = "ModifiedDateTime"
SOURCE_VERSION = "P2CSourceVersion"
EXTENSION_TYPES = {
    "String": Type.STRING,
    "Int32": Type.INT,
    "Int64": Type.BIGINT,
    "Decimal": Type.DECIMAL,
    "Boolean": Type.BOOL,
}

_TYPES = {
    "CreditLimit": Field("CreditLimit", Type.DECIMAL, scale=4),
    "OrganizationNumberOfEmployees": Field("OrganizationNumberOfEmployees", Type.INT),
    "LineCreationSequenceNumber": Field("LineCreationSequenceNumber", Type.INT, nullable=False),
    "RequestedSalesQuantity": Field("RequestedSalesQuantity", Type.DECIMAL, scale=5),
    "SalesPrice": Field("SalesPrice", Type.DECIMAL, scale=4),
    "LineDiscountAmount": Field("LineDiscountAmount", Type.DECIMAL, scale=4),
    "UnitCost": Field("UnitCost", Type.DECIMAL, scale=4),
    "RequestedShippingDate": Field("RequestedShippingDate", Type.DATETIME),
    "IsSellable": Field("IsSellable", Type.BOOL),
    "SalesUnitDecimalPrecision": Field("SalesUnitDecimalPrecision", Type.INT),
}


def _fields(names: str, *, business: bool = True) -> tuple[Field, ...]:
    fields = [_TYPES.get(n, Field(n)) for n in names.split()]
    if business:
        fields += [Field(MODIFIED, Type.DATETIME, readonly=True), Field(SOURCE_VERSION, Type.BIGINT)]
    return tuple(fields)


def _extended(entity: EntitySet) -> EntitySet:
    """``entity`` with the environment's extension fields on it (:mod:`p2c.sandbox.tenant_columns`)."""
    extra = [Field(name, EXTENSION_TYPES[kind]) for name, kind in erp_fields(entity.name)]
    clash = [f.name for f in extra if f.name in entity.by_name]
    if clash:
        raise ValueError(f"extension fields {clash} of {entity.name}: the entity has fields of those names")
    return replace(entity, fields=entity.fields + tuple(extra), by_name={}) if extra else entity


def _address(prefix: str, parts: str) -> str:
    return " ".join(f"{prefix}{p}" for p in parts.split())


_ADDR = "Street City State ZipCode County CountryRegionISOCode"

CUSTOMERS = EntitySet(
    "CustomersV3",
    "CustomerV3",
    (COMPANY, "CustomerAccount"),
    _fields(
        "dataAreaId CustomerAccount PartyType OrganizationName PersonFirstName PersonMiddleName PersonLastName "
        "PersonProfessionalTitle PersonGender PersonMaritalStatus CustomerGroupId LanguageId SalesCurrencyCode "
        "SiteId WarehouseId PrimaryContactPhone PrimaryContactEmail PrimaryContactFax PrimaryContactURL "
        "PrimaryContactTwitter CreditLimit OrganizationNumberOfEmployees SalesMemo "
        + _address("Address", _ADDR + " PostBox")
        + " "
        + _address("DeliveryAddress", _ADDR)
        + " "
        + _address("InvoiceAddress", _ADDR)
        + " IsExternallyMaintained OnHoldStatus"
    ),
    table_name="CustCustomerV3Entity",
    label="Customers",
)

CONTACTS = EntitySet(
    "CDSContactsV2",
    "CDSContactV2",
    (COMPANY, "ContactPersonId"),
    _fields(
        "dataAreaId ContactPersonId AssociatedContactType AssociatedContactNumber FirstName MiddleName LastName "
        + _address("PrimaryAddress", "Street City StateId ZipCode CountyId CountryRegionId")
        + " PrimaryPhoneNumber PrimaryEmailAddress PrimaryFaxNumber PrimaryURL EmploymentProfession "
        "EmploymentDepartment Notes Gender MaritalStatus IsReceivingDirectMail Decision "
        "IsContactPersonExternallyMaintained"
    ),
    table_name="CDSContactPersonV2Entity",
    label="Contact persons",
)

QUOTATION_HEADERS = EntitySet(
    "CDSSalesQuotationHeaders",
    "CDSSalesQuotationHeader",
    (COMPANY, "SalesQuotationNumber"),
    _fields(
        "dataAreaId SalesQuotationNumber SalesQuotationName RequestingCustomerAccountNumber "
        "InvoiceCustomerAccountNumber CurrencyCode DeliveryAddressStreet DeliveryAddressStreetNumber "
        "DeliveryAddressCity DeliveryAddressStateId DeliveryAddressZipCode DeliveryAddressCountryRegionISOCode "
        "RequestedShippingDate Email LanguageId IsExternallyMaintained"
    ),
    table_name="SalesQuotationHeaderCDSEntity",
    label="Sales quotations",
)

QUOTATION_LINES = EntitySet(
    "CDSSalesQuotationLines",
    "CDSSalesQuotationLine",
    (COMPANY, "SalesQuotationNumber", "LineCreationSequenceNumber"),
    _fields(
        "dataAreaId SalesQuotationNumber LineCreationSequenceNumber ProductNumber RequestedSalesQuantity "
        "SalesUnitSymbol SalesPrice LineDiscountAmount LineDescription RequestedShippingDate ShippingSiteId "
        "ShippingWarehouseId"
    ),
    table_name="SalesQuotationLineCDSEntity",
    label="Sales quotation lines",
)

RELEASED_PRODUCTS = EntitySet(
    "CDSReleasedDistinctProducts",
    "CDSReleasedDistinctProduct",
    (COMPANY, "ProductNumber"),
    _fields(
        "dataAreaId ProductNumber ProductName ProductDescription ItemNumber ProductType ProductSubType IsSellable "
        "SalesUnitSymbol SalesPrice UnitCost CurrencyCode SalesUnitDecimalPrecision ProductColorId ProductSizeId "
        "ProductStyleId ProductConfigurationId"
    ),
    table_name="EcoResReleasedDistinctProductCDSEntity",
    label="Released products",
)

CUSTOMER_GROUPS = EntitySet(
    "CustomerGroups",
    "CustomerGroup",
    (COMPANY, "CustomerGroupId"),
    _fields("dataAreaId CustomerGroupId Description PaymentTermId", business=False),
    table_name="CustCustomerGroupEntity",
)
CURRENCIES = EntitySet(
    "Currencies",
    "Currency",
    ("CurrencyCode",),
    _fields("CurrencyCode Name Symbol", business=False),
    table_name="CurrencyEntity",
)
UNITS = EntitySet(
    "UnitsOfMeasure",
    "UnitOfMeasure",
    ("UnitSymbol",),
    _fields("UnitSymbol UnitDescription UnitClass", business=False),
    table_name="UnitOfMeasureEntity",
)
LEGAL_ENTITIES = EntitySet(
    "LegalEntities",
    "LegalEntity",
    ("LegalEntityId",),
    _fields("LegalEntityId Name AccountingCurrency CountryRegionId", business=False),
    table_name="OMLegalEntity",
)
COUNTRIES = EntitySet(
    "AddressCountryRegions",
    "AddressCountryRegion",
    ("CountryRegionId",),
    _fields("CountryRegionId ISOCode ShortName", business=False),
    table_name="LogisticsAddressCountryRegionEntity",
)
LANGUAGES = EntitySet(
    "Languages",
    "Language",
    ("LanguageId",),
    _fields("LanguageId Description", business=False),
    table_name="LanguageEntity",
)

# An environment's own extension fields, when its sandbox was given them (p2c sandbox erp --extension-fields).
CUSTOMERS, CONTACTS, QUOTATION_HEADERS, QUOTATION_LINES, RELEASED_PRODUCTS = (
    _extended(e) for e in (CUSTOMERS, CONTACTS, QUOTATION_HEADERS, QUOTATION_LINES, RELEASED_PRODUCTS)
)
BUSINESS: tuple[EntitySet, ...] = (CUSTOMERS, CONTACTS, QUOTATION_HEADERS, QUOTATION_LINES, RELEASED_PRODUCTS)
REFERENCE: tuple[EntitySet, ...] = (CUSTOMER_GROUPS, CURRENCIES, UNITS, LEGAL_ENTITIES, COUNTRIES, LANGUAGES)
ALL = BUSINESS + REFERENCE
BY_SET = {e.name: e for e in ALL}


def company_specific(entity: EntitySet) -> bool:
    return COMPANY in entity.by_name
