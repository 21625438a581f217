"""Settings of the FinOps (ERP) sink: TOML ``[sink.erp]``, env ``P2C_ERP_*``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from connectors.core.config import ApiSettings


class ErpSinkSettings(ApiSettings):
    model_config = SettingsConfigDict(env_prefix="P2C_ERP_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8702"
    api_path: str = "/data/"
    #: legal entity (dataAreaId) for records that do not name one
    company: str = "usmf"
    #: comma-separated targets to write (one consumer group each: p2c-sink-erp-<flow>)
    flows: str = "customers"
    #: records per batch (and at most this many $batch operations per request, up to 1000)
    batch_size: int = 1000
    #: how long to wait for a batch to fill
    batch_ms: int = 200
    group_prefix: str = "p2c-sink-erp"

    @property
    def flow_list(self) -> list[str]:
        return [f.strip() for f in self.flows.split(",") if f.strip()]

    def group(self, flow: str) -> str:
        return f"{self.group_prefix}-{flow}"
