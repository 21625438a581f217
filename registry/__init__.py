"""The Confluent-compatible schema registry: the REST API over a log kept in the ``_schemas`` topic."""

from p2c.registry.core import Registry
from p2c.registry.errors import ErrorCode, RegistryError
from p2c.registry.store import MemoryLog, MemoryStore, Store

__all__ = ["ErrorCode", "MemoryLog", "MemoryStore", "Registry", "RegistryError", "Store"]
