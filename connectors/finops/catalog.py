"""Every FinOps target a sink can write, by target name (``p2c sink run erp --targets ...``)."""

from __future__ import annotations

from p2c.connectors.core.writes import targets_named
from p2c.connectors.finops.quotations import QUOTATIONS
from p2c.connectors.finops.targets import CONTACT_PERSONS, CUSTOMERS, Target

TARGETS: dict[str, Target] = {t.name: t for t in (CUSTOMERS, CONTACT_PERSONS, QUOTATIONS)}


def targets_for(names: list[str]) -> list[Target]:
    """The targets of these names; none named: every target the flows write into the ERP (``p2c.flows``)."""
    return targets_named(TARGETS, names, "erp")
