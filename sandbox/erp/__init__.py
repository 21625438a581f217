"""The FinOps-like ERP sandbox (OData under ``/data/``)."""

from p2c.sandbox.erp.app import create_app, open_store
from p2c.sandbox.erp.store import ErpStore

__all__ = ["ErpStore", "create_app", "open_store"]
