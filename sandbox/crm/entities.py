"""Dataverse tables the CRM sandbox serves, with the column names of the real Web API.

Business tables carry exactly the row fields of the Avro contracts ``schemas/p2c.src.crm.*.avsc`` (minus the
``*_isocurrencycode``/``*_name``/``*_type`` fields a source resolves from reference data) plus the columns
Dataverse maintains itself: ``createdon``, ``_createdby_value``, ``_modifiedby_value``, ``statuscode``.
"""

from __future__ import annotations

from p2c.sandbox.odata.model import EntitySet, Field, Type

S, N, B, D, DT, DATE, G, L = (
    Type.STRING,
    Type.INT,
    Type.BOOL,
    Type.DECIMAL,
    Type.DATETIME,
    Type.DATE,
    Type.GUID,
    Type.BIGINT,
)

ACCOUNT, CONTACT, PRODUCT, QUOTE, QUOTEDETAIL = "account", "contact", "product", "quote", "quotedetail"
CURRENCY, UOM, UOMSCHEDULE, PRICELEVEL, PRODUCTPRICELEVEL, SYSTEMUSER = (
    "transactioncurrency",
    "uom",
    "uomschedule",
    "pricelevel",
    "productpricelevel",
    "systemuser",
)


def _f(name: str, t: Type = S, **kw: object) -> Field:
    return Field(name, t, **kw)  # type: ignore[arg-type]


def _lookup(name: str, *targets: str) -> Field:
    return Field(f"_{name}_value", G, targets=targets)


def _money(name: str) -> Field:
    return Field(name, D, scale=4)


def _system(state: bool = True) -> tuple[Field, ...]:
    fields = [
        Field("createdon", DT, readonly=True),
        Field("modifiedon", DT, readonly=True),
        Field("versionnumber", L, readonly=True),
        Field("_createdby_value", G, readonly=True, targets=(SYSTEMUSER,)),
        Field("_modifiedby_value", G, readonly=True, targets=(SYSTEMUSER,)),
    ]
    if state:
        fields += [Field("statecode", N), Field("statuscode", N)]
    return tuple(fields)


def _address(prefix: str, parts: tuple[str, ...]) -> tuple[Field, ...]:
    return tuple(_f(f"{prefix}_{p}") for p in parts)


_ADDR = ("line1", "city", "stateorprovince", "postalcode", "county", "country")

ACCOUNTS = EntitySet(
    "accounts",
    ACCOUNT,
    ("accountid",),
    (
        _f("accountid", G),
        _f("accountnumber"),
        _f("name"),
        _f("telephone1"),
        _f("emailaddress1"),
        _f("fax"),
        _f("websiteurl"),
        _f("primarytwitterid"),
        _money("creditlimit"),
        _f("numberofemployees", N),
        _f("description"),
        *_address("address1", _ADDR),
        *_address("address2", _ADDR),
        _lookup("transactioncurrencyid", CURRENCY),
        _lookup("primarycontactid", CONTACT),
        *_system(),
    ),
    alternate_keys=(("accountnumber",),),
)

CONTACTS = EntitySet(
    "contacts",
    CONTACT,
    ("contactid",),
    (
        _f("contactid", G),
        _f("msdynce_contactnumber"),
        _f("firstname"),
        _f("middlename"),
        _f("lastname"),
        _f("jobtitle"),
        _f("department"),
        _f("gendercode", N),
        _f("familystatuscode", N),
        _f("emailaddress1"),
        _f("telephone1"),
        _f("fax"),
        _f("websiteurl"),
        _f("description"),
        _f("donotemail", B),
        _f("accountrolecode", N),
        *_address("address1", (*_ADDR, "postofficebox")),
        *_address("address2", _ADDR),
        *_address("address3", _ADDR),
        _lookup("parentcustomerid", ACCOUNT, CONTACT),
        _f("msdynce_isactivecustomer", B),
        _f("msdynce_iscompanyanaccount", B),
        _lookup("transactioncurrencyid", CURRENCY),
        *_system(),
    ),
    alternate_keys=(("msdynce_contactnumber",),),
)

PRODUCTS = EntitySet(
    "products",
    PRODUCT,
    ("productid",),
    (
        _f("productid", G),
        _f("productnumber"),
        _f("name"),
        _f("description"),
        _f("msdynce_ismaintainedexternally", B),
        _lookup("defaultuomid", UOM),
        _lookup("defaultuomscheduleid", UOMSCHEDULE),
        _lookup("pricelevelid", PRICELEVEL),
        _money("price"),
        _money("currentcost"),
        _f("producttypecode", N),
        _f("quantitydecimal", N),
        _lookup("transactioncurrencyid", CURRENCY),
        # custom column a real tenant needs added: the source version the
        # products sink wrote, so an older version never overwrites a newer one
        _f("p2c_sourceversion", L),
        *_system(),
    ),
    alternate_keys=(("productnumber",),),
)

QUOTES = EntitySet(
    "quotes",
    QUOTE,
    ("quoteid",),
    (
        _f("quoteid", G),
        _f("quotenumber"),
        _f("revisionnumber", N),
        _f("name"),
        _lookup("customerid", ACCOUNT, CONTACT),
        _lookup("transactioncurrencyid", CURRENCY),
        _lookup("pricelevelid", PRICELEVEL),
        *(_f(f"shipto_{p}") for p in ("line1", "line2", "city", "stateorprovince", "postalcode", "country")),
        _f("requestdeliveryby", DATE),
        _f("emailaddress"),
        _f("description"),
        _f("msdynce_ismaintainedexternally", B),
        _f("msdynce_hasexternallymaintainedproductsonly", B),
        _money("totalamount"),
        *_system(),
    ),
    alternate_keys=(("quotenumber",),),
)

QUOTEDETAILS = EntitySet(
    "quotedetails",
    QUOTEDETAIL,
    ("quotedetailid",),
    (
        _f("quotedetailid", G),
        _lookup("quoteid", QUOTE),
        _f("sequencenumber", N),
        _f("lineitemnumber", N),
        _lookup("productid", PRODUCT),
        _f("productdescription"),
        _f("isproductoverridden", B),
        Field("quantity", D, scale=5),
        _lookup("uomid", UOM),
        _money("priceperunit"),
        _money("manualdiscountamount"),
        _money("baseamount"),
        _money("extendedamount"),
        _f("description"),
        _f("requestdeliveryby", DATE),
        _f("msdynce_ismaintainedexternally", B),
        _f("msdynce_quotehasexternalmaintainedproductsonly", B),
        *_system(),
    ),
)

TRANSACTIONCURRENCIES = EntitySet(
    "transactioncurrencies",
    CURRENCY,
    ("transactioncurrencyid",),
    (
        _f("transactioncurrencyid", G),
        _f("isocurrencycode"),
        _f("currencyname"),
        _f("currencysymbol"),
        Field("exchangerate", D, scale=10),
        _f("currencyprecision", N),
        *_system(),
    ),
)

UOMSCHEDULES = EntitySet(
    "uomschedules",
    UOMSCHEDULE,
    ("uomscheduleid",),
    (_f("uomscheduleid", G), _f("name"), _f("baseuomname"), _f("description"), *_system()),
)

UOMS = EntitySet(
    "uoms",
    UOM,
    ("uomid",),
    (
        _f("uomid", G),
        _f("name"),
        _lookup("uomscheduleid", UOMSCHEDULE),
        _lookup("baseuom", UOM),
        Field("quantity", D, scale=10),
        _f("isschedulebaseuom", B),
        *_system(state=False),
    ),
)

PRICELEVELS = EntitySet(
    "pricelevels",
    PRICELEVEL,
    ("pricelevelid",),
    (
        _f("pricelevelid", G),
        _f("name"),
        _f("description"),
        _lookup("transactioncurrencyid", CURRENCY),
        _f("begindate", DATE),
        _f("enddate", DATE),
        *_system(),
    ),
)

PRODUCTPRICELEVELS = EntitySet(
    "productpricelevels",
    PRODUCTPRICELEVEL,
    ("productpricelevelid",),
    (
        _f("productpricelevelid", G),
        _lookup("pricelevelid", PRICELEVEL),
        _lookup("productid", PRODUCT),
        _lookup("uomid", UOM),
        _lookup("uomscheduleid", UOMSCHEDULE),
        _lookup("transactioncurrencyid", CURRENCY),
        _money("amount"),
        _f("pricingmethodcode", N),
        _f("quantitysellingcode", N),
        *_system(state=False),
    ),
)

SYSTEMUSERS = EntitySet(
    "systemusers",
    SYSTEMUSER,
    ("systemuserid",),
    (
        _f("systemuserid", G),
        _f("fullname"),
        _f("domainname"),
        _f("applicationid"),
        _f("isdisabled", B),
        _f("accessmode", N),
        *_system(state=False),
    ),
)

ALL: tuple[EntitySet, ...] = (
    ACCOUNTS,
    CONTACTS,
    PRODUCTS,
    QUOTES,
    QUOTEDETAILS,
    TRANSACTIONCURRENCIES,
    UOMSCHEDULES,
    UOMS,
    PRICELEVELS,
    PRODUCTPRICELEVELS,
    SYSTEMUSERS,
)
BY_SET = {e.name: e for e in ALL}
BY_LOGICAL = {e.logical_name: e for e in ALL}

# Generated numbers: (alternate-key field, prefix, counter start) of the P2C number sequences.
NUMBERS = {
    "accounts": ("accountnumber", "ACC", 1000),
    "contacts": ("msdynce_contactnumber", "CON", 1000),
    "quotes": ("quotenumber", "QUO", 1000),
}
# Tables whose rows Dataverse change tracking serves (all of them here).
TRACKED = frozenset(BY_SET)
