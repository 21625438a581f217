"""The control plane: an operator tool above the components (ARCHITECTURE.md), never in p2c's shared kernel.

``deadletters`` (the dead letters' lifecycle), ``overview`` (flows, health), ``api`` (JSON, OpenAPI),
``console`` (pages), ``prometheus`` (/metrics), ``server`` (``p2c control``), ``dlq_cli`` (``p2c dlq``).
"""

from p2c.control.deadletters import DeadLetters
from p2c.control.lifecycle import Entry
from p2c.control.overview import Overview

__all__ = ["DeadLetters", "Entry", "Overview"]
