"""Deterministic sample data for both sandboxes: ``p2c sandbox seed``.

ERP: released products in ``usmf`` (USD), most of them sellable. CRM: the externally maintained products that
correspond (as if synced earlier, with a price-list item in "standard"), a few CRM-only products, accounts,
contacts (active customers, contact persons of an account, orphans) and quotes with 1-5 lines (active and
draft; most lines on externally maintained products, some on CRM-only products or write-ins).

Rows get GUIDs derived from the seed and their index, so seeding twice adds nothing; it is safe while the
servers run (WAL mode, short write transactions).
"""

from __future__ import annotations

import logging
import random
import string
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from p2c.sandbox import seed_data as W
from p2c.sandbox.crm import entities as C
from p2c.sandbox.crm.app import open_store as open_crm
from p2c.sandbox.crm.refdata import ref_id
from p2c.sandbox.crm.store import SEED_USER_ID, CrmStore
from p2c.sandbox.erp import entities as R
from p2c.sandbox.erp.app import open_store as open_erp
from p2c.sandbox.erp.store import ErpStore
from p2c.sandbox.odata.model import EntitySet
from p2c.sandbox.odata.sqlite import fetch_one

log = logging.getLogger("p2c.sandbox")
SEED_NAMESPACE = uuid.UUID("8d7a8f57-3c0e-4d5f-a3b7-6b1f7e0a2c44")
CRM_UNIT = {
    "ea": "Each",
    "pcs": "Piece",
    "box": "Box",
    "dz": "Dozen",
    "set": "Set",
    "h": "Hour",
    "kg": "Kilogram",
    "m": "Meter",
}


@dataclass(frozen=True)
class SeedCounts:
    accounts: int = 300
    contacts: int = 300
    products: int = 200
    quotes: int = 200
    lines: int | None = None  # lines per quote; None: 1-5 at random


class _Seeder:
    def __init__(self, crm: CrmStore, erp: ErpStore, counts: SeedCounts, seed: int) -> None:
        self.crm, self.erp, self.counts, self.seed = crm, erp, counts, seed
        self.rng = random.Random(seed)
        self.added: dict[str, int] = {}

    def gid(self, kind: str, i: int) -> str:
        return str(uuid.uuid5(SEED_NAMESPACE, f"{self.seed}:{kind}:{i}"))

    def _crm(self, entity: EntitySet, cols: dict[str, Any]) -> None:
        pk = entity.key[0]
        if fetch_one(self.crm.conn, entity, {pk: cols[pk]}) is None:
            self.crm.insert_row(entity, cols, SEED_USER_ID)
            self.added[entity.name] = self.added.get(entity.name, 0) + 1

    def _number(self, prefix: str, field: str) -> str:
        n = self.crm.db.next_counter(f"number:{field}", 1000)
        return f"{prefix}-{n:05d}-{''.join(self.rng.choices(string.ascii_uppercase, k=6))}"

    def address(self) -> dict[str, str | None]:
        r = self.rng.random()
        street = f"{self.rng.randint(1, 9999)} {self.rng.choice(W.STREETS)}"
        if r < 0.7:
            city, state, zipcode, county = self.rng.choice(W.US_CITIES)
            country: str | None = self.rng.choice(W.US_SPELLINGS)
        elif r < 0.9:
            city, state, zipcode, country = self.rng.choice(W.FOREIGN)
            county = ""
        else:
            city, state, zipcode, county = self.rng.choice(W.US_CITIES)
            country = None  # typed without a country
        return {
            "line1": street,
            "city": city,
            "stateorprovince": state or None,
            "postalcode": zipcode,
            "county": county or None,
            "country": country,
        }

    def phone(self) -> str:
        return f"+1 {self.rng.randint(200, 989)}-555-{self.rng.randint(100, 9999):04d}"

    def products(self) -> list[tuple[str, str, float, bool]]:
        """ERP released products, and their CRM counterparts; (crm id, unit, price, external) of CRM products."""
        crm_products: list[tuple[str, str, float, bool]] = []
        standard = ref_id("pricelevel", "standard")
        usd = ref_id("currency", "USD")
        for i in range(self.counts.products):
            noun, unit = W.PRODUCT_NOUNS[i % len(W.PRODUCT_NOUNS)]
            name = f"{self.rng.choice(W.PRODUCT_ADJECTIVES)} {noun} {100 + i}"
            number = f"P-{1000 + i}"
            price = round(self.rng.uniform(5, 1500), 2)
            sellable = self.rng.random() < 0.9
            body = {
                "dataAreaId": "usmf",
                "ProductNumber": number,
                "ProductName": name,
                "ProductDescription": f"{name}, sold by the {unit}.",
                "ItemNumber": number,
                "ProductType": "Service" if unit == "h" else "Item",
                "SalesUnitSymbol": unit,
                "SalesPrice": price,
                "UnitCost": round(price * self.rng.uniform(0.4, 0.8), 2),
                "CurrencyCode": "USD",
                "SalesUnitDecimalPrecision": 2 if unit in ("kg", "m", "h") else 0,
            }
            if self.erp.get(R.RELEASED_PRODUCTS, {"dataAreaId": "usmf", "ProductNumber": number}) is None:
                self.erp.create(R.RELEASED_PRODUCTS, body)
                self.added["CDSReleasedDistinctProducts"] = self.added.get("CDSReleasedDistinctProducts", 0) + 1
                if not sellable:  # sales stopped: the per-item flag of its default order settings
                    stopped = {"IsSalesProcessingStopped": "Yes"}
                    self.erp.update(R.ORDER_SETTINGS, {"dataAreaId": "usmf", "ItemNumber": number}, stopped)
            if sellable:
                pid = self.gid("product", i)
                self._crm_product(pid, number, name, unit, price, True, usd, standard)
                crm_products.append((pid, unit, price, True))
        for i in range(max(1, self.counts.products // 10)):
            pid = self.gid("crmproduct", i)
            noun, unit = self.rng.choice(W.PRODUCT_NOUNS)
            price = round(self.rng.uniform(5, 500), 2)
            self._crm_product(pid, f"CRM-{500 + i}", f"Custom {noun} {i}", unit, price, False, usd, standard)
            crm_products.append((pid, unit, price, False))
        return crm_products

    def _crm_product(
        self, pid: str, number: str, name: str, unit: str, price: float, external: bool, usd: str, standard: str
    ) -> None:
        uom = ref_id("uom", CRM_UNIT[unit])
        self._crm(
            C.PRODUCTS,
            {
                "productid": pid,
                "productnumber": number,
                "name": name,
                "msdynce_ismaintainedexternally": int(external),
                "_defaultuomid_value": uom,
                "_defaultuomscheduleid_value": ref_id("uomschedule", "Default Unit"),
                "_pricelevelid_value": standard,
                "price": price,
                "producttypecode": 1,
                "quantitydecimal": 2,
                "_transactioncurrencyid_value": usd,
                "statecode": 0,
                "statuscode": 1,
            },
        )
        self._crm(
            C.PRODUCTPRICELEVELS,
            {
                "productpricelevelid": str(uuid.uuid5(SEED_NAMESPACE, f"ppl:{pid}")),
                "_pricelevelid_value": standard,
                "_productid_value": pid,
                "_uomid_value": uom,
                "_uomscheduleid_value": ref_id("uomschedule", "Default Unit"),
                "_transactioncurrencyid_value": usd,
                "amount": price,
                "pricingmethodcode": 1,
                "quantitysellingcode": 1,
            },
        )

    def accounts(self) -> list[str]:
        ids = []
        for i in range(self.counts.accounts):
            aid = self.gid("account", i)
            ids.append(aid)
            if self.crm.get(C.ACCOUNTS, aid) is not None:
                continue
            words = self.rng.choice(W.COMPANY_WORDS), self.rng.choice(W.COMPANY_KINDS)
            name = f"{words[0]} {words[1]} {self.rng.choice(W.COMPANY_SUFFIXES)}".strip()
            a1, a2 = self.address(), self.address() if self.rng.random() < 0.3 else {}
            domain = words[0].lower().replace(" ", "").replace("'", "") + ".example.com"
            cols = {
                "accountid": aid,
                "accountnumber": self._number("ACC", "accountnumber"),
                "name": name,
                "telephone1": self.phone(),
                "emailaddress1": f"info@{domain}",
                "websiteurl": f"https://{domain}",
                "creditlimit": float(self.rng.choice([5000, 10000, 25000, 50000, 100000])),
                "numberofemployees": self.rng.randint(5, 5000),
                "_transactioncurrencyid_value": ref_id(
                    "currency",
                    "EUR" if a1["country"] in ("Germany", "Deutschland", "France", "Netherlands", "Spain") else "USD",
                ),
                **{f"address1_{k}": v for k, v in a1.items()},
                **{f"address2_{k}": v for k, v in a2.items()},
            }
            self._crm(C.ACCOUNTS, cols)
        return ids

    def contacts(self, account_ids: list[str]) -> list[str]:
        customers = []
        for i in range(self.counts.contacts):
            cid = self.gid("contact", i)
            r = self.rng.random()
            active, parent = (r < 0.25), (account_ids and r >= 0.25 and r < 0.75)
            if active:
                customers.append(cid)
            if self.crm.get(C.CONTACTS, cid) is not None:
                continue
            first, gender = self.rng.choice(W.FIRST_NAMES)
            last = self.rng.choice(W.LAST_NAMES)
            a1 = self.address()
            cols: dict[str, Any] = {
                "contactid": cid,
                "msdynce_contactnumber": self._number("CON", "msdynce_contactnumber"),
                "firstname": first,
                "middlename": self.rng.choice(W.MIDDLE_INITIALS) or None,
                "lastname": last,
                "jobtitle": self.rng.choice(W.JOB_TITLES),
                "department": self.rng.choice(W.DEPARTMENTS) or None,
                "gendercode": gender,
                "familystatuscode": self.rng.choice([1, 2, 2, 3, None]),
                "emailaddress1": f"{first.lower()}.{last.lower().replace(chr(39), '')}@mail.example.com",
                "telephone1": self.phone(),
                "donotemail": int(self.rng.random() < 0.1),
                "accountrolecode": self.rng.choice([1, 2, 3, None]),
                "msdynce_isactivecustomer": int(active),
                "_transactioncurrencyid_value": ref_id("currency", "USD"),
                **{f"address1_{k}": v for k, v in a1.items()},
            }
            if parent:
                cols["_parentcustomerid_value"] = self.rng.choice(account_ids)
                cols["parentcustomerid__type"] = C.ACCOUNT
            self._crm(C.CONTACTS, cols)
        return customers

    def quotes(self, accounts: list[str], customers: list[str], products: list[tuple[str, str, float, bool]]) -> None:
        external = [p for p in products if p[3]] or products
        internal = [p for p in products if not p[3]] or products
        for i in range(self.counts.quotes):
            qid = self.gid("quote", i)
            if self.crm.get(C.QUOTES, qid) is not None or not (accounts or customers):
                continue
            by_contact = customers and (self.rng.random() < 0.2 or not accounts)
            customer, ctype = (
                (self.rng.choice(customers), C.CONTACT) if by_contact else (self.rng.choice(accounts), C.ACCOUNT)
            )
            active = self.rng.random() < 0.6
            ship = self.address()
            due = date(2026, 1, 1) + timedelta(days=self.rng.randint(0, 365))
            self._crm(
                C.QUOTES,
                {
                    "quoteid": qid,
                    "quotenumber": self._number("QUO", "quotenumber"),
                    "revisionnumber": 0,
                    "name": f"{self.rng.choice(W.QUOTE_TOPICS)} {i + 1}",
                    "_customerid_value": customer,
                    "customerid__type": ctype,
                    "_transactioncurrencyid_value": ref_id("currency", "USD"),
                    "_pricelevelid_value": ref_id("pricelevel", "standard"),
                    **{f"shipto_{k}": ship[k] for k in ("line1", "city", "stateorprovince", "postalcode", "country")},
                    "requestdeliveryby": f"{due.isoformat()}T00:00:00.000Z",  # a DateTimeOffset column
                    "statecode": 1 if active else 0,
                    "statuscode": 2 if active else 1,
                },
            )
            for n in range(self.counts.lines or self.rng.randint(1, 5)):
                r = self.rng.random()
                line: dict[str, Any] = {
                    "quotedetailid": self.gid(f"quotedetail:{i}", n),
                    "_quoteid_value": qid,
                    "sequencenumber": n + 1,
                    "quantity": float(self.rng.randint(1, 20)),
                }
                if r < 0.85 or r >= 0.95:
                    pid, unit, price, _ = self.rng.choice(external if r < 0.85 else internal)
                    line.update(
                        {"_productid_value": pid, "_uomid_value": ref_id("uom", CRM_UNIT[unit]), "priceperunit": price}
                    )
                else:
                    line.update(
                        {
                            "productdescription": "Write-in: custom engraving",
                            "priceperunit": 25.0,
                            "_uomid_value": ref_id("uom", "Each"),
                        }
                    )
                if self.rng.random() < 0.2:
                    line["manualdiscountamount"] = round(self.rng.uniform(1, 50), 2)
                self._crm(C.QUOTEDETAILS, line)


def seed(data_dir: Path, counts: SeedCounts | None = None, seed: int = 42) -> dict[str, int]:
    """Write sample data into ``data_dir/crm`` and ``data_dir/erp``; returns the rows added per entity set."""
    crm, erp = open_crm(Path(data_dir) / "crm"), open_erp(Path(data_dir) / "erp")
    try:
        seeder = _Seeder(crm, erp, counts or SeedCounts(), seed)
        with erp.db.transaction(), crm.db.transaction():
            products = seeder.products()
        with crm.db.transaction():
            accounts = seeder.accounts()
            customers = seeder.contacts(accounts)
        with crm.db.transaction():
            seeder.quotes(accounts, customers, products)
        return seeder.added
    finally:
        crm.close()
        erp.close()
