"""The FinOps-like ERP sandbox (OData under ``/data/``)."""

from sandbox.erp.app import create_app, open_store
from sandbox.erp.store import ErpStore

__all__ = ["ErpStore", "create_app", "open_store"]
