"""ERP reference data, created whenever the store is opened: legal entities and their ledgers (the accounting
currency), currencies, customer groups, units, countries and regions, language codes. Properties the rows do
not name get FinOps's empty values."""

from __future__ import annotations

from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.catalog import empty_value
from p2c.sandbox.odata.model import EntitySet
from p2c.sandbox.odata.sqlite import Database, fetch_one, insert

DEFAULT_COMPANY = "usmf"
LEGAL_ENTITIES = [  # id, name, accounting currency, country
    ("usmf", "Contoso Entertainment System USA", "USD", "USA"),
    ("demf", "Contoso Entertainment System Germany", "EUR", "DEU"),
    ("gbsi", "Contoso Entertainment System UK", "GBP", "GBR"),
]
CURRENCIES = [
    ("USD", "US Dollar", "$"),
    ("EUR", "Euro", "€"),
    ("GBP", "Pound Sterling", "£"),
    ("CAD", "Canadian Dollar", "$"),
    ("JPY", "Yen", "¥"),
    ("CHF", "Swiss Franc", "CHF"),
    ("DKK", "Danish Krone", "kr"),
]
CUSTOMER_GROUPS = [
    ("10", "Wholesale customers"),
    ("20", "Major customers"),
    ("30", "Retail customers"),
    ("40", "Internet customers"),
    ("80", "Other customers"),
    ("90", "Intercompany customers"),
]
UNITS = [
    ("ea", "Each", "Quantity"),
    ("pcs", "Pieces", "Quantity"),
    ("box", "Box", "Quantity"),
    ("dz", "Dozen", "Quantity"),
    ("set", "Set", "Quantity"),
    ("h", "Hours", "Time"),
    ("kg", "Kilograms", "Mass"),
    ("m", "Meters", "Length"),
]
COUNTRIES = [  # FinOps country/region id, ISO code, name (names live on AddressCountryRegionTranslations: not served)
    ("USA", "US", "United States"),
    ("CAN", "CA", "Canada"),
    ("MEX", "MX", "Mexico"),
    ("DEU", "DE", "Germany"),
    ("GBR", "GB", "United Kingdom"),
    ("FRA", "FR", "France"),
    ("NLD", "NL", "Netherlands"),
    ("DNK", "DK", "Denmark"),
    ("ESP", "ES", "Spain"),
    ("ITA", "IT", "Italy"),
    ("JPN", "JP", "Japan"),
    ("AUS", "AU", "Australia"),
    ("CHE", "CH", "Switzerland"),
    ("SWE", "SE", "Sweden"),
    ("IRL", "IE", "Ireland"),
    ("BEL", "BE", "Belgium"),
    ("AUT", "AT", "Austria"),
    ("NOR", "NO", "Norway"),
    ("BRA", "BR", "Brazil"),
    ("IND", "IN", "India"),
    ("CHN", "CN", "China"),
    ("POL", "PL", "Poland"),
    ("FIN", "FI", "Finland"),
    ("PRT", "PT", "Portugal"),
]
LANGUAGES = [
    ("en-us", "English (United States)"),
    ("en-gb", "English (United Kingdom)"),
    ("de", "German"),
    ("fr", "French"),
    ("nl", "Dutch"),
    ("da", "Danish"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("sv", "Swedish"),
]


def ensure_reference_data(db: Database) -> None:
    rows: list[tuple[EntitySet, dict[str, object]]] = []
    for lid, name, currency, country in LEGAL_ENTITIES:
        rows.append((E.LEGAL_ENTITIES, {"LegalEntityId": lid, "Name": name, "AddressCountryRegionId": country}))
        rows.append((E.LEDGERS, {"LegalEntityId": lid, "Name": lid.upper(), "AccountingCurrency": currency}))
        rows += [
            (E.CUSTOMER_GROUPS, {"dataAreaId": lid, "CustomerGroupId": g, "Description": d, "PaymentTermId": "Net30"})
            for g, d in CUSTOMER_GROUPS
        ]
    rows += [(E.CURRENCIES, {"CurrencyCode": c, "Name": n, "Symbol": s}) for c, n, s in CURRENCIES]
    rows += [(E.UNITS, {"UnitSymbol": u, "UnitDescription": d, "UnitClass": k}) for u, d, k in UNITS]
    rows += [(E.COUNTRIES, {"CountryRegion": c, "ISOcode": i}) for c, i, _name in COUNTRIES]
    rows += [(E.LANGUAGES, {"LanguageCodeId": lang, "Description": d}) for lang, d in LANGUAGES]
    with db.transaction() as conn:
        for entity, row in rows:
            if fetch_one(conn, entity, {k: row[k] for k in entity.key}) is None:
                empty = {
                    f.name: empty_value(f) for f in entity.fields if (not f.nullable or f.enum) and f.name not in row
                }
                insert(conn, entity, {**empty, **row})
