"""Waiting for a conversation's state to change: its state events wake the waiter at once, other
events do not, and without any events it still wakes within its recheck interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from thinktank.events.changes import state_changes
from thinktank.events.log import EventBus


async def test_a_state_change_wakes_the_waiter_and_streaming_words_do_not() -> None:
    bus = EventBus()
    async with state_changes(bus, "c1", recheck=600) as changed:
        waiting = asyncio.create_task(changed())
        await bus.publish("c1", {"type": "token.delta", "persona_id": "cfo", "text": "Well"})
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not waiting.done(), "words streaming change no state"
        await bus.publish("c1", {"type": "state.changed", "status": "paused", "reason": "asked"})
        async with asyncio.timeout(5):
            await waiting


async def test_a_change_published_before_the_first_wait_is_not_missed() -> None:
    bus = EventBus()
    async with state_changes(bus, "c1", recheck=600) as changed:
        await bus.publish("c1", {"type": "state.changed", "status": "finished", "reason": "done"})
        async with asyncio.timeout(5):
            await changed()


class Unreachable(EventBus):
    """A bus that cannot be read, like Redis when it is down."""

    async def last_id(self, conversation_id: str) -> str:
        raise ConnectionError("redis is down")

    async def subscribe(
        self, conversation_id: str, last_event_id: str | None, *, heartbeat: float | None = None
    ) -> AsyncIterator[str]:
        raise ConnectionError("redis is down")


async def test_without_events_the_waiter_still_wakes_after_its_recheck_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    async with state_changes(Unreachable(), "c1", recheck=0.05) as changed:
        started = loop.time()
        async with asyncio.timeout(5):
            await changed()
        assert loop.time() - started >= 0.05
    assert "waiting without events" in caplog.text
