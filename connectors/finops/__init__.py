"""The FinOps (ERP) sink: $batch upserts guarded by the source version."""

from connectors.finops.settings import ErpSinkSettings
from connectors.finops.sink import FinOpsSink
from connectors.finops.targets import TARGETS, Target

__all__ = ["TARGETS", "ErpSinkSettings", "FinOpsSink", "Target"]
