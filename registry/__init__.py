"""The Confluent-compatible schema registry: the REST API over a log kept in the ``_schemas`` topic."""

from registry.core import Registry
from registry.errors import ErrorCode, RegistryError
from registry.store import MemoryLog, MemoryStore, Store

__all__ = ["ErrorCode", "MemoryLog", "MemoryStore", "Registry", "RegistryError", "Store"]
