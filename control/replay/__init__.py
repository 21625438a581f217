"""``p2c replay``: rewind one flow's consumer group at one stage while p2c runs (``p2c.replays`` says how)."""
