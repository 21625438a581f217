"""The Dataverse-like CRM sandbox (Web API under ``/api/data/v9.2/``)."""

from p2c.sandbox.crm.app import create_app, open_store
from p2c.sandbox.crm.store import CrmStore, application_user_id

__all__ = ["CrmStore", "application_user_id", "create_app", "open_store"]
