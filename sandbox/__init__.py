"""Dataverse-like CRM and FinOps-like ERP services on SQLite, for the embedded default and the tests."""
