"""The FinOps (ERP) connectors: the sink ($batch upserts with version guard and dependency holds) and the
polling source (modified-time watermark with overlap)."""

from connectors.finops.catalog import TARGETS, targets_for
from connectors.finops.quotations import QuotationTarget
from connectors.finops.settings import ErpSinkSettings, ErpSourceSettings
from connectors.finops.sink import FinOpsSink
from connectors.finops.source import FinOpsSource
from connectors.finops.targets import Reference, Target

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
