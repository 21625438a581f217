"""Soft and permanent deletes of subjects and versions: DELETE /subjects/{subject}[/versions/{version}].

As in Confluent's registry a delete is soft first (the versions stay readable by id, and with
``deleted=true``) and permanent only after that; nothing referenced by a live schema may be deleted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from p2c.registry import records
from p2c.registry import requests as req
from p2c.registry.errors import ErrorCode, RegistryError
from p2c.registry.state import Version

if TYPE_CHECKING:
    from p2c.registry.core import Registry

log = logging.getLogger("p2c.registry")


def _subject_not_found(subject: str) -> RegistryError:
    return RegistryError(ErrorCode.SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


class Deletes:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _not_referenced(self, subject: str, versions: list[Version]) -> None:
        for v in versions:
            users = self.registry.state.referrers(subject, v.version)
            if users:
                raise RegistryError(
                    ErrorCode.REFERENCE_EXISTS,
                    f"One or more references exist to the schema {{subject={subject},version={v.version}}}, "
                    f"used by {', '.join(f'{u.subject} version {u.version}' for u in users)}",
                )

    async def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """DELETE /subjects/{subject}: soft first, then ``permanent`` (which needs the soft delete)."""
        async with self.registry.write_lock:
            await self.registry.store.sync()
            self.registry.writable(subject)
            every = self.registry.state.versions(subject, deleted=True)
            if not every:
                raise _subject_not_found(subject)
            live = [v for v in every if not v.deleted]
            if permanent:
                if live:
                    raise RegistryError(
                        ErrorCode.SUBJECT_NOT_SOFT_DELETED,
                        f"Subject '{subject}' was not deleted first before being permanently deleted",
                    )
                for v in every:
                    await self.registry.store.append(records.schema_key(subject, v.version), None)
                for key, present in (
                    (records.config_key, self.registry.state.configs),
                    (records.mode_key, self.registry.state.modes),
                ):
                    if subject in present:
                        await self.registry.store.append(key(subject), None)
                log.info("subject %s permanently deleted (versions %s)", subject, [v.version for v in every])
                return [v.version for v in every]
            if not live:
                raise RegistryError(
                    ErrorCode.SUBJECT_SOFT_DELETED,
                    f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently",
                )
            self._not_referenced(subject, live)
            value = {"subject": subject, "version": live[-1].version}
            await self.registry.store.append(records.delete_subject_key(subject), value)
            log.info("subject %s soft-deleted (versions %s)", subject, [v.version for v in live])
            return [v.version for v in live]

    async def delete_version(self, subject: str, version: str, permanent: bool = False) -> int:
        """DELETE /subjects/{subject}/versions/{version}: soft first, then ``permanent``."""
        wanted = req.version_id(version)
        async with self.registry.write_lock:
            await self.registry.store.sync()
            self.registry.writable(subject)
            every = self.registry.state.versions(subject, deleted=True)
            if not every:
                raise _subject_not_found(subject)
            if wanted == "latest":
                pool = every if permanent else [v for v in every if not v.deleted]
                target = pool[-1] if pool else None
            else:
                target = next((v for v in every if v.version == wanted), None)
            if target is None:
                raise RegistryError(ErrorCode.VERSION_NOT_FOUND, f"Version {version} not found.")
            if permanent:
                if not target.deleted:
                    raise RegistryError(
                        ErrorCode.SCHEMAVERSION_NOT_SOFT_DELETED,
                        f"Subject '{subject}' Version {target.version} was not deleted first before being "
                        "permanently deleted",
                    )
                await self.registry.store.append(records.schema_key(subject, target.version), None)
            else:
                if target.deleted:
                    raise RegistryError(
                        ErrorCode.SCHEMAVERSION_SOFT_DELETED,
                        f"Subject '{subject}' Version {target.version} was soft deleted. "
                        "Set permanent=true to delete permanently",
                    )
                self._not_referenced(subject, [target])
                await self.registry.store.append(
                    records.schema_key(subject, target.version), self.registry.record_value(target, True)
                )
            log.info("subject %s version %d %s", subject, target.version, "purged" if permanent else "soft-deleted")
            return target.version
