"""Foreign-key joins on Faust tables (KIP-213 subscriptions): the pure core; agents in ``streams.join.agents``."""

from p2c.streams.join.core import (
    Answer,
    DependencySpec,
    Step,
    Subscription,
    Versioned,
    accept,
    on_change,
    on_subscription,
    subscription_changes,
)

__all__ = [
    "Answer",
    "DependencySpec",
    "Step",
    "Subscription",
    "Versioned",
    "accept",
    "on_change",
    "on_subscription",
    "subscription_changes",
]
