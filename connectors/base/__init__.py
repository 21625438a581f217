"""Contracts every connector implements."""

from p2c.connectors.base.sink import HeldBack, Sink, SinkRecord, WriteResult
from p2c.connectors.base.source import ChangeEvent, Checkpoint, Position, Rejected, Source, SourceItem

__all__ = [
    "ChangeEvent",
    "Checkpoint",
    "HeldBack",
    "Position",
    "Rejected",
    "Sink",
    "SinkRecord",
    "Source",
    "SourceItem",
    "WriteResult",
]
