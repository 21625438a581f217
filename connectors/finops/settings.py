"""Settings of the FinOps (ERP) connectors: the sink (TOML ``[sink.erp]``) and the source (``[source.erp]``),
both with env ``P2C_ERP_*``."""

from __future__ import annotations

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
    #: records per batch (and at most this many $batch operations per request, up to 1000)
    batch_size: int = 1000
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
    #: seconds between polls. Half the Dataverse source's second: a product reaches a waiting quote through
    #: two polls (this one, then the CRM's), and the quote should leave within 2 s of the product's arrival
    poll_interval: float = 0.5
    #: each poll starts this many ms before the watermark, for rows committed late with an earlier time
    overlap_ms: int = 2000
    #: rows per request (FinOps pages at most 10,000)
    page_size: int = 1000
    #: name the position is stored under in p2c.positions
    connector_name: str = "erp"
    #: store the position at least this often even when nothing changed
    position_refresh: float = 300.0

    @property
    def entity_list(self) -> list[str]:
        return [e.strip() for e in self.entities.split(",") if e.strip()]
