"""Where the fetched Kafka lives and how its JVMs run (env prefix ``P2C_``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from p2c.errors import ConfigurationError
from p2c.kafka.artifacts import KAFKA_VERSION

MIN_JAVA = 17


def default_home() -> Path:
    return Path.home() / ".cache" / "p2c" / f"kafka-{KAFKA_VERSION}"


class KafkaRuntimeSettings(BaseSettings):
    """``P2C_KAFKA_HOME``: the cache of jars; ``P2C_JAVA``: the java binary; ``P2C_KAFKA_HEAP``: -Xmx per node."""

    model_config = SettingsConfigDict(env_prefix="P2C_", frozen=True, extra="forbid")

    kafka_home: Path | None = None
    java: str = "java"
    kafka_heap: str = "320m"

    @property
    def home(self) -> Path:
        return self.kafka_home or default_home()


def java_problem(java: str = "java") -> str | None:
    """Why Apache Kafka cannot run here (no java, or older than 17), or None when it can."""
    path = shutil.which(java)
    if path is None:
        return f"Java {MIN_JAVA}+ is needed to run Apache Kafka and `{java}` is not on PATH"
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`{path} -version` failed: {exc}"
    # 'openjdk version "17.0.15" ...' or 'java version "1.8.0_392"'
    quoted = out.split('"')[1] if out.count('"') >= 2 else ""
    parts = quoted.split(".")
    major = int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0]) if parts[0].isdigit() else 0
    if major < MIN_JAVA:
        return f"Apache Kafka {KAFKA_VERSION} needs Java {MIN_JAVA}+, and {path} is {quoted or 'unknown'}"
    return None


def require_java(java: str = "java") -> None:
    problem = java_problem(java)
    if problem:
        raise ConfigurationError(f"{problem}: install a JDK {MIN_JAVA}+ (or use the embedded broker)")
