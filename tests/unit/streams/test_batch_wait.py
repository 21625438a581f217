"""An agent's batch wait sleeps while nothing arrives, and still hands out every event in order."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from p2c.streams import faust_adapter
from p2c.streams.batch_wait import QuietWait
from p2c.streams.handling import in_batches


async def handled_at_least(handled: list[Any], n: int) -> None:
    while len(handled) < n:
        await asyncio.sleep(0.01)


def test_an_idle_agent_is_not_woken_and_every_event_is_handed_out_in_order() -> None:
    loop = asyncio.new_event_loop()  # current while the app is built: Faust binds to it
    asyncio.set_event_loop(loop)
    # never connects: Faust's test context feeds the agent directly
    app = faust.App("batch-wait-test", broker="kafka://127.0.0.1:1", store="memory://")
    handled: list[Any] = []
    streams: list[Any] = []
    timed_waits: list[Any] = []
    original = QuietWait.wait_for_stopped

    async def counted(self: QuietWait, *coros: Any, timeout: Any = None) -> bool:
        if timeout is not None:
            timed_waits.append(timeout)
        return await original(self, *coros, timeout=timeout)

    async def handle(event: Any) -> None:
        handled.append(event.value)

    @app.agent(app.channel())
    async def agent(stream: Any) -> None:
        streams.append(stream)
        await in_batches(stream, handle)

    async def scenario() -> None:
        async with agent.test_context() as context:
            for i in range(3):
                await context.put(i)
            await asyncio.wait_for(handled_at_least(handled, 3), 10)
            settled = len(timed_waits)
            await asyncio.sleep(0.5)  # Faust's own wait would have timed out ten times
            assert len(timed_waits) <= settled + 1  # at most the one under way when the last batch went out
            assert vars(streams[0])["wait_for_stopped"].__func__ is counted  # installed while the agent runs
            await context.put(3)
            await asyncio.wait_for(handled_at_least(handled, 4), 10)
        assert handled == [0, 1, 2, 3]
        assert "wait_for_stopped" not in vars(streams[0])  # the class's own again once the agent stopped

    QuietWait.wait_for_stopped = counted  # type: ignore[method-assign]
    try:
        loop.run_until_complete(scenario())
    finally:
        QuietWait.wait_for_stopped = original  # type: ignore[method-assign]
        thread_loop = faust_adapter.consumer_thread_loop(app)  # Faust's consumer makes one; it is ours to close
        if thread_loop is not None:
            thread_loop.close()
        asyncio.set_event_loop(None)
        loop.close()
