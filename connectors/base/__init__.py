"""Contracts every connector implements."""

from connectors.base.sink import HeldBack, Sink, SinkRecord, WriteResult
from connectors.base.source import ChangeEvent, Checkpoint, Position, Rejected, Source, SourceItem

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
