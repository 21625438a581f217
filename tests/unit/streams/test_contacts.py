"""The contacts -> customers template: routing on "is active customer", person fields, option-set maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2c.errors import ConfigurationError, RecordError
from p2c.streams import loader, samples
from p2c.streams.flow import DELETE, UPSERT, MappingFlow
from p2c.streams.template import apply, matches


@pytest.fixture(scope="module")
def flow() -> MappingFlow:
    return MappingFlow(loader.load("contacts-customers"))


def contact(**fields: Any) -> dict[str, Any]:
    return {
        "contactid": "c-1",
        "msdynce_contactnumber": "CON-01000-BVRCPS",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "msdynce_isactivecustomer": True,
        **fields,
    }


def test_an_active_customer_contact_becomes_a_person_customer(flow: MappingFlow) -> None:
    record = apply(flow.template, contact(gendercode=2, familystatuscode=2, address1_country="UK", jobtitle="Analyst"))
    assert record["CustomerAccount"] == "CON-01000-BVRCPS"
    assert record["PartyType"] == "Person"
    assert (record["PersonFirstName"], record["PersonLastName"]) == ("Ada", "Lovelace")
    assert record["PersonGender"] == "Female" and record["PersonMaritalStatus"] == "Married"
    assert record["PersonProfessionalTitle"] == "Analyst"
    assert record["AddressCountryRegionISOCode"] == "GB"
    assert record["DeliveryAddressCountryRegionISOCode"] == "US"
    assert (record["CustomerGroupId"], record["LanguageId"]) == ("10", "en-us")


@pytest.mark.parametrize(("active", "routed"), [(True, True), (False, False), (None, False)])
def test_routing_on_is_active_customer(flow: MappingFlow, active: bool | None, routed: bool) -> None:
    assert matches(flow.template, contact(msdynce_isactivecustomer=active)) is routed


def test_an_unknown_option_set_value_names_the_field(flow: MappingFlow) -> None:
    with pytest.raises(RecordError) as caught:
        apply(flow.template, contact(gendercode=9))
    assert (caught.value.record_key, caught.value.field) == ("c-1", "gendercode")


def test_a_contact_that_stops_being_a_customer_leaves_the_customers(flow: MappingFlow) -> None:
    created = flow.handle(samples.change("c", contact(), 1, entity="contacts"), None)
    assert [w.value["op"] for w in created.writes] == [UPSERT]
    inactive = samples.change("u", contact(msdynce_isactivecustomer=False), 2, entity="contacts")
    left = flow.handle(inactive, created.known)
    assert [(w.key, w.value["op"]) for w in left.writes] == [("usmf|CON-01000-BVRCPS", DELETE)]
    assert flow.handle(inactive, None).skipped


def test_a_routing_value_of_the_wrong_type_is_rejected(tmp_path: Path) -> None:
    text = (loader.TEMPLATES / "contacts-customers.toml").read_text()
    path = tmp_path / "t.toml"
    path.write_text(text.replace("msdynce_isactivecustomer = true", 'msdynce_isactivecustomer = "yes"'))
    with pytest.raises(ConfigurationError, match="msdynce_isactivecustomer"):
        loader.load(path)
