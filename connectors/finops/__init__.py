"""The FinOps (ERP) connectors: the sink ($batch upserts, versions kept on p2c's side, dependency holds, a failing
record isolated) and the source (periodic product snapshots diffed against the last one)."""

from p2c.connectors.finops.catalog import TARGETS, targets_for
from p2c.connectors.finops.quotations import QuotationTarget
from p2c.connectors.finops.settings import ErpSinkSettings, ErpSourceSettings
from p2c.connectors.finops.sink import FinOpsSink
from p2c.connectors.finops.source import FinOpsSource
from p2c.connectors.finops.targets import Reference, Target

__all__ = [
    "TARGETS",
    "ErpSinkSettings",
    "ErpSourceSettings",
    "FinOpsSink",
    "FinOpsSource",
    "QuotationTarget",
    "Reference",
    "Target",
    "targets_for",
]
