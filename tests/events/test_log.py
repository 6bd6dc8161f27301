"""The in-process bus: where a page rendered mid-reply subscribes from."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

from thinktank.events.log import EventBus


async def replayed(bus: EventBus, conversation_id: str, since: str) -> list[str]:
    stream = await bus.subscribe(conversation_id, since)
    async with asyncio.timeout(2):
        chunk = await anext(aiter(stream))
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()
    return [
        json.loads(line.removeprefix("data: "))["type"]
        for line in chunk.splitlines()
        if line.startswith("data: ")
    ]


async def test_a_turn_in_progress_is_replayed_from_its_start() -> None:
    bus = EventBus()
    assert await bus.open_turn("c1") is None
    await bus.publish("c1", {"type": "message.completed"})
    await bus.publish("c1", {"type": "turn.decided", "persona_id": "cfo"})
    await bus.publish("c1", {"type": "token.delta", "persona_id": "cfo", "text": "Margins "})
    await bus.publish("c1", {"type": "token.delta", "persona_id": "cfo", "text": "first."})
    start = await bus.open_turn("c1")
    assert start is not None
    assert await replayed(bus, "c1", start) == ["turn.decided", "token.delta", "token.delta"]


async def test_no_turn_is_open_once_it_has_ended() -> None:
    bus = EventBus()
    for ending in ("message.completed", "error", "state.changed"):
        await bus.publish("c1", {"type": "turn.decided", "persona_id": "cfo"})
        await bus.publish("c1", {"type": "token.delta", "persona_id": "cfo", "text": "Margins"})
        assert await bus.open_turn("c1") is not None
        await bus.publish("c1", {"type": ending})
        assert await bus.open_turn("c1") is None, ending
