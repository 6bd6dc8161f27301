"""Wait for a conversation's state to change: woken by its events on the bus, with a bounded
fallback for the events that never come (a restart paused it, or the bus lost them)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from thinktank.events.log import CONVERSATION_DELETED, HEARTBEAT, RESYNC, STATE_CHANGED, Bus, event_types

log = logging.getLogger(__name__)

# The conversation's state may have changed after one of these; other events (words streaming,
# costs) never change it.
WAKE_EVENTS = frozenset({STATE_CHANGED, RESYNC, CONVERSATION_DELETED})


@asynccontextmanager
async def state_changes(
    bus: Bus, conversation_id: str, *, recheck: float
) -> AsyncIterator[Callable[[], Coroutine[Any, Any, None]]]:
    """A function that returns when the conversation's state may have changed: after one of
    WAKE_EVENTS, or at the latest after `recheck` seconds. Read the state after entering: a change
    after that read is never missed."""
    # From the newest event now: the in-process bus starts a stream only when it is first read, so
    # subscribing from `None` could miss a change made before that.
    try:
        since = await bus.last_id(conversation_id)
        stream = await bus.subscribe(conversation_id, since, heartbeat=recheck)
    except Exception as exc:  # Redis unreachable: the caller still finds the change, by reading
        log.warning("waiting without events (%s: %s)", type(exc).__name__, exc)
        stream = _no_events()

    async def changed() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + recheck
        async for chunk in stream:
            if chunk == HEARTBEAT or event_types(chunk) & WAKE_EVENTS or loop.time() >= deadline:
                return
        await asyncio.sleep(recheck)  # the stream ended (Redis went away): read again after a pause

    try:
        yield changed
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()


async def _no_events() -> AsyncIterator[str]:
    return
    yield  # the `yield` makes this an async generator; it ends before yielding anything
