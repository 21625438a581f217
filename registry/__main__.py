"""``python -m registry serve``: the same as ``p2c registry serve``."""

from p2c.registry.cli import registry

registry(prog_name="python -m registry")
