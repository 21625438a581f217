"""Settings of the Dataverse (CRM) connectors: the source (TOML ``[source.crm]``) and the sink (``[sink.crm]``),
both with env ``P2C_CRM_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from p2c.connectors.core.config import ApiSettings


class CrmSourceSettings(ApiSettings):
    model_config = SettingsConfigDict(env_prefix="P2C_CRM_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8701"
    api_path: str = "/api/data/v9.2/"
    #: comma-separated entity sets to read; empty: every one the flows read (``p2c.flows``)
    entities: str = ""
    #: seconds between delta polls
    poll_interval: float = 1.0
    #: seconds between the delta polls of an entity set whose last poll brought changes (at most 10 polls a
    #: second among such sets); set it to ``poll_interval`` for a steady pace
    busy_poll_interval: float = 0.2
    #: seconds between the delta polls of an entity set that brought no change for a minute: Power Platform
    #: counts every request against the tenant's daily allocation, and five sets polled every second are
    #: 432,000 requests a day; set it to ``poll_interval`` for a steady pace
    idle_poll_interval: float = 5.0
    #: ``Prefer: odata.maxpagesize`` (Dataverse's maximum is 5000)
    page_size: int = 5000
    #: name the position is stored under in p2c.positions
    connector_name: str = "crm"
    #: override every stream's default (true for CRM -> ERP entities, false for products)
    ignore_own_changes: bool | None = None
    #: store the delta link at least this often even when nothing changed (tokens expire after ~7 days)
    position_refresh: float = 300.0

    @property
    def entity_list(self) -> list[str]:
        return [e.strip() for e in self.entities.split(",") if e.strip()]


class CrmSinkSettings(ApiSettings):
    """Settings of the Dataverse (CRM) sink: TOML ``[sink.crm]``, env ``P2C_CRM_*``."""

    model_config = SettingsConfigDict(env_prefix="P2C_CRM_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8701"
    api_path: str = "/api/data/v9.2/"
    #: comma-separated targets to write (one consumer group each: p2c-sink-crm-<target>); empty: every
    #: target the flows write into the CRM (``p2c.flows``)
    targets: str = ""
    batch_size: int = 1000
    batch_ms: int = 200
    #: operations in the first $batch (doubled after each round without a 429, halved after one with)
    start_batch_operations: int = 10
    #: $batch requests in flight at most (Dataverse refuses more than 52 per user at once)
    max_concurrency: int = 8
    group_prefix: str = "p2c-sink-crm"
    #: unit group of products whose record names none
    default_unit_group: str = "Default Unit"
    #: seconds before a currency, unit or price list that was not found is looked up again
    reference_reload: float = 1.0
    #: where the applied version per target key is kept (``connectors.core.versions``)
    sink_state_dir: Path = Path("./.p2c/state/sink-crm")

    @property
    def target_list(self) -> list[str]:
        return [t.strip() for t in self.targets.split(",") if t.strip()]

    def group(self, target: str) -> str:
        return f"{self.group_prefix}-{target}"
