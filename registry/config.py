"""Compatibility levels and modes, global (``subject`` None) or per subject: /config and /mode."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from p2c.registry import records
from p2c.registry import requests as req
from p2c.registry.errors import ErrorCode, RegistryError

if TYPE_CHECKING:
    from p2c.registry.core import Registry

log = logging.getLogger("p2c.registry")


class Settings:
    """The config and mode endpoints of one registry. Writes go through the registry's log like schemas."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.state = registry.state

    def get_config(self, subject: str | None = None, default_to_global: bool = False) -> dict[str, Any]:
        if subject is not None and subject not in self.state.configs and not default_to_global:
            raise RegistryError(
                ErrorCode.SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
                f"Subject '{subject}' does not have subject-level compatibility configured",
            )
        return {"compatibilityLevel": self.registry.level(subject)}

    async def set_config(self, subject: str | None, body: Any) -> dict[str, Any]:
        level = req.level(body)
        await self._put(records.config_key(subject), {"compatibilityLevel": level})
        log.info("compatibility of %s set to %s", subject or "the registry", level)
        return {"compatibility": level}

    async def delete_config(self, subject: str | None = None) -> dict[str, Any]:
        previous = self.get_config(subject)
        await self._put(records.config_key(subject), None)
        log.info("compatibility of %s reset", subject or "the registry")
        return previous

    def get_mode(self, subject: str | None = None, default_to_global: bool = False) -> dict[str, Any]:
        if subject is not None and subject not in self.state.modes and not default_to_global:
            raise RegistryError(
                ErrorCode.SUBJECT_MODE_NOT_CONFIGURED,
                f"Subject '{subject}' does not have subject-level mode configured",
            )
        return {"mode": self.registry.mode(subject)}

    async def set_mode(self, subject: str | None, body: Any, force: bool = False) -> dict[str, Any]:
        mode = req.mode(body)
        if mode == "IMPORT" and not force:
            await self.registry.store.sync()
            existing = [s for s in self.registry.subjects() if subject in (None, s)]
            if existing:
                raise RegistryError(
                    ErrorCode.OPERATION_NOT_PERMITTED,
                    "Cannot import since found existing subjects; set force=true to import anyway",
                )
        await self._put(records.mode_key(subject), {"mode": mode})
        log.info("mode of %s set to %s", subject or "the registry", mode)
        return {"mode": mode}

    async def delete_mode(self, subject: str) -> dict[str, Any]:
        previous = self.get_mode(subject)
        await self._put(records.mode_key(subject), None)
        log.info("mode of %s reset", subject)
        return previous

    async def _put(self, key: records.JSONDict, value: records.JSONDict | None) -> None:
        async with self.registry.write_lock:
            await self.registry.store.append(key, value)
