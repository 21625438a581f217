"""apply(): defaults, value maps, consts, transforms, required fields, routing and the target key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from p2c.errors import ConfigurationError, RecordError
from p2c.streams import loader
from p2c.streams.template import FieldSpec, Template, Transform, ValueMap, apply, matches, target_key


@pytest.fixture(scope="module")
def accounts() -> Template:
    return loader.load("accounts")


def account(**fields: object) -> dict[str, object]:
    return {
        "accountid": "6f1c2c9e-0000-0000-0000-000000000001",
        "accountnumber": "ACC-01000-BVRCPS",
        "name": "Contoso Ltd",
        **fields,
    }


def test_defaults_and_constants_fill_an_account_with_only_a_name(accounts: Template) -> None:
    record = apply(accounts, account())
    assert record["dataAreaId"] == "usmf"
    assert record["CustomerAccount"] == "ACC-01000-BVRCPS"
    assert record["OrganizationName"] == "Contoso Ltd"
    assert record["PartyType"] == "Organization"
    assert record["IsExternallyMaintained"] == "Yes"
    assert record["CustomerGroupId"] == "10"
    assert record["LanguageId"] == "en-us"
    assert record["DeliveryAddressCountryRegionISOCode"] == "US"
    assert record["InvoiceAddressCountryRegionISOCode"] == "US"
    assert record["SalesCurrencyCode"] is None


def test_fields_are_copied_and_transformed(accounts: Template) -> None:
    record = apply(
        accounts,
        account(
            telephone1=" +1 425 555 0100 ",
            emailaddress1="ap@contoso.com",
            creditlimit=Decimal("25000.5000"),
            numberofemployees=120,
            transactioncurrencyid_isocurrencycode="eur",
            address1_city="Redmond",
            address2_line1="1 Invoice Way",
            description="Key account",
            name="  " + "x" * 150,
        ),
    )
    assert record["PrimaryContactPhone"] == "+1 425 555 0100"
    assert record["PrimaryContactEmail"] == "ap@contoso.com"
    assert record["CreditLimit"] == Decimal("25000.5000")
    assert record["OrganizationNumberOfEmployees"] == 120
    assert record["SalesCurrencyCode"] == "EUR"
    assert record["DeliveryAddressCity"] == "Redmond"
    assert record["InvoiceAddressStreet"] == "1 Invoice Way"
    assert record["SalesMemo"] == "Key account"
    assert record["OrganizationName"] == "x" * 100


@pytest.mark.parametrize(
    ("typed", "iso"),
    [
        ("United States", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("usa", "US"),
        ("  United   States ", "US"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("GBR", "GB"),
        ("France", "FR"),
        ("Danmark", "DK"),
        ("DE", "DE"),
        ("", "US"),
        (None, "US"),
        ("   ", "US"),
    ],
)
def test_country_names_as_users_type_them_become_iso_codes(accounts: Template, typed: str | None, iso: str) -> None:
    record = apply(accounts, account(address1_country=typed, address2_country=typed))
    assert record["DeliveryAddressCountryRegionISOCode"] == iso
    assert record["InvoiceAddressCountryRegionISOCode"] == iso


def test_unknown_country_names_the_record_and_the_field(accounts: Template) -> None:
    with pytest.raises(RecordError) as caught:
        apply(accounts, account(address2_country="Atlantis"))
    assert caught.value.record_key == "6f1c2c9e-0000-0000-0000-000000000001"
    assert caught.value.field == "address2_country"
    assert "Atlantis" in str(caught.value) and "countries" in str(caught.value)


@pytest.mark.parametrize("number", [None, "", "   "])
def test_account_without_number_is_a_record_error_on_accountnumber(accounts: Template, number: str | None) -> None:
    with pytest.raises(RecordError) as caught:
        apply(accounts, account(accountnumber=number))
    assert caught.value.field == "accountnumber"
    assert caught.value.record_key == "6f1c2c9e-0000-0000-0000-000000000001"


def test_target_key_joins_the_key_fields_with_a_bar(accounts: Template) -> None:
    assert target_key(accounts, apply(accounts, account())) == "usmf|ACC-01000-BVRCPS"
    other = loader.load("accounts", company="usrt")
    assert target_key(other, apply(other, account())) == "usrt|ACC-01000-BVRCPS"


def _tiny(**spec: Any) -> Template:
    return Template(
        "t", "src", "tgt", "id", ("K",), (FieldSpec("K", source="k", required=True), FieldSpec("V", **spec))
    )


def test_const_wins_over_the_row_and_default_only_fills_blanks() -> None:
    assert apply(_tiny(source="v", const="C"), {"k": "1", "v": "x"})["V"] == "C"
    assert apply(_tiny(source="v", default="D"), {"k": "1", "v": None})["V"] == "D"
    assert apply(_tiny(source="v", default="D"), {"k": "1", "v": "x"})["V"] == "x"


def test_inline_value_map_translates_non_strings() -> None:
    vmap = ValueMap.build("gender", {1: "Male", 2: "Female"})
    assert apply(_tiny(source="v", value_map=vmap), {"k": "1", "v": 2})["V"] == "Female"
    with pytest.raises(RecordError) as caught:
        apply(_tiny(source="v", value_map=vmap), {"id": "r1", "k": "1", "v": 3})
    assert (caught.value.record_key, caught.value.field) == ("r1", "v")


@pytest.mark.parametrize(
    ("spec", "given", "expected"),
    [
        ("trim", "  a b ", "a b"),
        ("upper", "ab", "AB"),
        ("lower", "AB", "ab"),
        ("truncate:3", "abcdef", "abc"),
    ],
)
def test_transforms(spec: str, given: str, expected: str) -> None:
    assert Transform.parse(spec).fn(given) == expected


@pytest.mark.parametrize("spec", ["reverse", "truncate", "truncate:0", "truncate:x", "trim:2"])
def test_unknown_or_malformed_transforms_are_rejected(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        Transform.parse(spec)


def test_routing_conditions_accept_any_listed_value() -> None:
    template = Template("t", "src", "tgt", "id", (), (), when={"active": (True,), "kind": (1, 2)})
    assert matches(template, {"active": True, "kind": 2})
    assert not matches(template, {"active": False, "kind": 2})
    assert not matches(template, {"active": True})
