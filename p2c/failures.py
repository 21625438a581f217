"""One error policy for every runtime (sources, stream agents, join providers, sinks): retry or dead-letter.

For one record (or one batch, for the connectors) that raised ``error`` on its ``attempt``-th try, after
``elapsed`` seconds of trying, :meth:`ErrorPolicy.decide` says what to do:

* a :class:`RecordError` (it can never go through as it is)            -> dead-letter it now;
* a :class:`RetriableError` (the other side is down, slow, throttling) -> retry after a backoff that doubles
  from ``first_delay`` to ``max_delay`` (or the ``Retry-After`` the other side asked for), for at most
  ``retriable_budget`` seconds; a record still failing then is dead-lettered ("kept failing"): a poison
  record cannot stall its partition forever;
* anything else (a bug, an error nobody classified)                    -> retried ``unexpected_attempts``
  times, then dead-lettered with its class: never a crash loop, never an endless retry.

The caller keeps the process responsive while it waits (an ``await asyncio.sleep`` in an agent, a sleep
that watches the stop request in a connector) and never skips: the record is done, or it is a dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2c.errors import RecordError, RetriableError

DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class ErrorPolicy:
    first_delay: float = 0.5
    max_delay: float = 30.0
    retriable_budget: float = 300.0
    unexpected_attempts: int = 3

    def decide(self, error: BaseException, attempt: int, elapsed: float) -> float | str:
        """Seconds to wait before the next try, or DEAD_LETTER."""
        if isinstance(error, RecordError):
            return DEAD_LETTER
        if isinstance(error, RetriableError):
            if elapsed >= self.retriable_budget:
                return DEAD_LETTER
            asked = error.retry_after
            delay = float(asked) if asked is not None else self.first_delay * 2.0 ** (attempt - 1)
            return min(delay, self.max_delay, max(self.retriable_budget - elapsed, 0.0))
        if attempt >= self.unexpected_attempts:
            return DEAD_LETTER
        return min(self.first_delay * 2.0 ** (attempt - 1), self.max_delay)

    @staticmethod
    def reason(error: BaseException, attempt: int, elapsed: float) -> RecordError:
        """The dead letter's error: the record error itself, or why a record that kept failing was given up."""
        if isinstance(error, RecordError):
            return error
        why = f"kept failing ({attempt} tries in {elapsed:.0f} s), last with {type(error).__name__}: {error}"
        return RecordError(why)


POLICY = ErrorPolicy()
