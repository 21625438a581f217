"""Settings of the Dataverse (CRM) source: TOML ``[source.crm]``, env ``P2C_CRM_*``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from connectors.core.config import ApiSettings

DEFAULT_ENTITIES = "accounts,contacts,quotes,quotedetails,products"


class CrmSourceSettings(ApiSettings):
    model_config = SettingsConfigDict(env_prefix="P2C_CRM_", frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:8701"
    api_path: str = "/api/data/v9.2/"
    #: comma-separated entity sets to read
    entities: str = DEFAULT_ENTITIES
    #: seconds between delta polls
    poll_interval: float = 1.0
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
