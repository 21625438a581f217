"""Settings of the FinOps (ERP) connectors: the sink (TOML ``[sink.erp]``) and the source (``[source.erp]``),
both with env ``P2C_ERP_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from p2c.connectors.core.config import ApiSettings


class ErpSinkSettings(ApiSettings):
    model_config = SettingsConfigDict(env_prefix="P2C_ERP_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8702"
    api_path: str = "/data/"
    #: legal entity (dataAreaId) for records that do not name one
    company: str = "usmf"
    #: comma-separated targets to write (one consumer group each: p2c-sink-erp-<target>); empty: every
    #: target the flows write into the ERP (``p2c.flows``)
    targets: str = ""
    #: records per batch
    batch_size: int = 1000
    #: requests (parts) per $batch: OData's default limit is 100; raise it only if the environment allows more
    batch_parts: int = 100
    #: times a change set FinOps answers with a 5xx is sent before it is dead-lettered with FinOps's message
    retry_budget: int = 3
    #: where the sink keeps the version it applied per target key (SQLite, one file per target)
    sink_state_dir: Path = Path("./.p2c/state/sink-erp")
    #: how long to wait for a batch to fill
    batch_ms: int = 200
    group_prefix: str = "p2c-sink-erp"
    #: seconds a record waits for a missing customer or product before it is dead-lettered
    hold_timeout: float = 60.0
    #: seconds between two looks for what a held record waits for
    hold_retry_after: float = 0.5

    @property
    def target_list(self) -> list[str]:
        return [t.strip() for t in self.targets.split(",") if t.strip()]

    def group(self, target: str) -> str:
        return f"{self.group_prefix}-{target}"


class ErpSourceSettings(ApiSettings):
    model_config = SettingsConfigDict(env_prefix="P2C_ERP_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8702"
    api_path: str = "/data/"
    #: comma-separated entity sets to poll; empty: every one the flows read (``p2c.flows``)
    entities: str = ""
    #: only this legal entity (dataAreaId); None with ``cross_company``: every company
    company: str | None = None
    cross_company: bool = True
    #: seconds between two snapshots of the products (each reads every product: keep it reasonable on a
    #: real environment with many products; see docs/decisions.md for what it costs)
    poll_interval: float = 1.0
    #: seconds between two snapshots of an entity set whose snapshots found no change for a minute (never
    #: shorter than ``poll_interval``); set it to ``poll_interval`` for a steady pace
    idle_poll_interval: float = 5.0
    #: rows per request (FinOps pages at most 10,000)
    page_size: int = 5000
    #: where the source keeps the last snapshot (SQLite: one hash per product)
    snapshot_dir: Path = Path("./.p2c/state/source-erp")
    #: name the position is stored under in p2c.positions
    connector_name: str = "erp"

    @property
    def entity_list(self) -> list[str]:
        return [e.strip() for e in self.entities.split(",") if e.strip()]
