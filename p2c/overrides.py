"""A customer's own templates and schemas, kept outside the package: they override or extend the shipped ones,
file by file, so an upgrade of p2c never touches them.

    P2C_TEMPLATES_DIR   <stem>.toml overrides streams/templates/<stem>.toml (or is a new one);
                        maps/<name>.toml overrides or adds a shared value map
    P2C_SCHEMAS_DIR     <topic>.avsc overrides schemas/<topic>.avsc (or is a new one)

The directories come, in order of precedence, from an option (``p2c templates``, ``p2c up``), the
environment, or ``templates_dir`` / ``schemas_dir`` in the ``[mappings]`` section of the config file
(relative paths there are relative to the file). Every command that takes ``--config`` applies them before
it runs (``p2c.options.config_file``); ``p2c up`` hands them to its children as absolute paths. Whatever
loads a template or a schema asks :func:`current`, so one process sees one set. ``p2c templates check``
validates them against the contracts and the registry, ``p2c templates diff`` shows what they change.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from p2c.errors import ConfigurationError
from p2c.settings import load, read_section

SECTION = "mappings"
ENV = {"templates_dir": "P2C_TEMPLATES_DIR", "schemas_dir": "P2C_SCHEMAS_DIR"}


class OverrideSettings(BaseSettings):
    """Where a customer's templates and schemas are (section ``[mappings]``, env ``P2C_TEMPLATES_DIR`` ...)."""

    model_config = SettingsConfigDict(env_prefix="P2C_", frozen=True, extra="forbid")

    templates_dir: Path | None = None
    schemas_dir: Path | None = None

    def environment(self) -> dict[str, str]:
        """The variables that give a child process the same directories."""
        return {ENV[name]: str(value) for name in ENV if (value := getattr(self, name)) is not None}


_current: OverrideSettings | None = None


def configure(config_file: str | Path | None = None, **options: Path | str | None) -> OverrideSettings:
    """Resolve the directories (options > environment > config file), check they exist, make them current."""
    global _current
    settings = load(OverrideSettings, SECTION, config_file, **options)
    path = config_file or os.environ.get("P2C_CONFIG")
    in_file = read_section(path, SECTION) if path else {}
    resolved: dict[str, Path | None] = {}
    for name, variable in ENV.items():
        value: Path | None = getattr(settings, name)
        if value is not None and path and not value.is_absolute():
            from_file = options.get(name) is None and variable not in os.environ and name in in_file
            value = Path(path).parent / value if from_file else value
        if value is not None and not value.is_dir():
            raise ConfigurationError(
                f"{name} {value} is not a directory (from --{name.replace('_', '-')}, {variable} or "
                f"[{SECTION}] {name}): create it, or point the setting at your {name.split('_')[0]}"
            )
        resolved[name] = value.resolve() if value is not None else None
    _current = OverrideSettings(templates_dir=resolved["templates_dir"], schemas_dir=resolved["schemas_dir"])
    return _current


def reset() -> None:
    """Forget the configured directories: the next use reads the environment again."""
    global _current
    _current = None


def current() -> OverrideSettings:
    """The directories in force; from the environment alone when nothing configured them."""
    return _current if _current is not None else configure()


def templates_dir() -> Path | None:
    return current().templates_dir


def schemas_dir() -> Path | None:
    return current().schemas_dir
