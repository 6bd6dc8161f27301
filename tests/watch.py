"""Wait for a conversation's events in a test instead of polling: a subscription to the app's event
bus, read from the test's thread through the TestClient's portal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from fastapi import FastAPI
from fastapi.testclient import TestClient


def sse_events(text: str) -> list[dict[str, Any]]:
    """The JSON data of each event in SSE text (comments such as heartbeats have none)."""
    return [json.loads(line.removeprefix("data: ")) for line in text.split("\n") if line.startswith("data: ")]


class Watch:
    """A conversation's events from the moment the watch was opened."""

    def __init__(self, client: TestClient, stream: AsyncIterator[str]) -> None:
        assert client.portal is not None, "use the TestClient as a context manager"
        self.portal = client.portal
        self.stream = stream

    def until(self, wanted: Callable[[dict[str, Any]], bool], *, within: float = 20.0) -> dict[str, Any]:
        """The first event from here on that `wanted` accepts; fails after `within` seconds."""

        async def first() -> dict[str, Any]:
            try:
                async with asyncio.timeout(within):
                    async for chunk in self.stream:
                        for event in sse_events(chunk):
                            if wanted(event):
                                return event
            except TimeoutError:
                raise AssertionError(f"no such event within {within} s") from None
            raise AssertionError("the event stream ended")

        return self.portal.call(first)


@contextmanager
def watch(client: TestClient, conversation_id: str) -> Iterator[Watch]:
    """Subscribe from the conversation's newest event, so nothing after this call is missed."""
    bus = cast(FastAPI, client.app).state.service.bus

    async def subscribe() -> AsyncIterator[str]:
        stream: AsyncIterator[str] = await bus.subscribe(conversation_id, await bus.last_id(conversation_id))
        return stream

    assert client.portal is not None, "use the TestClient as a context manager"
    stream = client.portal.call(subscribe)
    try:
        yield Watch(client, stream)
    finally:
        if isinstance(stream, AsyncGenerator):
            client.portal.call(stream.aclose)
