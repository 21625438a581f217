"""Settings of the streams worker (section ``[streams]`` of the config file, env prefix ``P2C_STREAMS_``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from p2c.flows import NAMES, STREAMS_GROUP

APP_ID = STREAMS_GROUP  # the Faust app id is the streams' consumer group


class StreamsSettings(BaseSettings):
    """What a streams worker runs and how."""

    model_config = SettingsConfigDict(env_prefix="P2C_STREAMS_", frozen=True, extra="forbid")

    company: str = Field("usmf", min_length=1, description="FinOps legal entity (dataAreaId) of the writes.")
    flows: tuple[str, ...] = Field(NAMES, description="Flows this worker runs (p2c.flows; all by default).")
    web_port: int | None = Field(None, description="Faust's web server port; none: no web server.")
    web_host: str = Field("127.0.0.1", description="Address Faust's web server listens on.")
    summary_interval_s: float = Field(30.0, gt=0, description="How often to log the per-flow summary.")
    commit_interval_s: float = Field(1.0, gt=0, description="How often processed offsets are committed.")
    app_id: str = APP_ID
    data_dir: Path = Field(
        Path(tempfile.gettempdir()) / "p2c-streams",
        description="Faust's working directory (one folder per app id); tables live in Kafka, nothing here is kept.",
    )
