"""p2c: prospect to cash, streamed. Shared pieces: settings, errors, topic names, serialization, the CLI."""

__version__ = "0.1.0"
