"""Every FinOps target a sink can write, by flow name (``p2c sink run erp --flows ...``)."""

from __future__ import annotations

from p2c.connectors.finops.quotations import QUOTATIONS
from p2c.connectors.finops.targets import CONTACT_PERSONS, CUSTOMERS, Target

TARGETS: dict[str, Target] = {t.name: t for t in (CUSTOMERS, CONTACT_PERSONS, QUOTATIONS)}


def targets_for(names: list[str]) -> list[Target]:
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise KeyError(f"unknown ERP flows {unknown}; known: {', '.join(TARGETS)}")
    return [TARGETS[n] for n in names]
