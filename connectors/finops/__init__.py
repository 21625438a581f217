"""The FinOps (ERP) connectors: the sink ($batch upserts with version guard and dependency holds) and the
polling source (modified-time watermark with overlap)."""

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
