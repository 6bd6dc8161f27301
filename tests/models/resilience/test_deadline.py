"""A hung provider costs seconds, not minutes: first-byte and idle deadlines per attempt, each retry
announced to whoever waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx2
import pytest
from pydantic_ai.direct import model_request_stream
from pydantic_ai.models import Model

from tests.fakes import FakeClock, FakeServer
from tests.models.test_providers import KEYS, MESSAGES, openai_chunks, openai_stream
from thinktank import errors
from thinktank.models.ids import parse_model_id
from thinktank.models.notices import RetryNotice, retry_notices
from thinktank.models.resilience.deadline import Deadlines
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import text_delta
from thinktank.settings import Settings

GPT = parse_model_id("openai:gpt-4.1-mini")
FAST = Deadlines(first_byte=0.3, idle=0.3)


async def hang(request: httpx2.Request) -> httpx2.Response:
    await asyncio.sleep(30)
    raise AssertionError("the deadline should have fired long before")


def stalls_after(pieces: int) -> httpx2.Response:
    """A stream that sends some chunks, then goes silent without closing."""

    async def body() -> AsyncIterator[bytes]:
        for event in openai_chunks(*[f"word{i} " for i in range(pieces)])[:pieces]:
            yield f"data: {json.dumps(event)}\n\n".encode()
        await asyncio.sleep(30)

    return httpx2.Response(200, content=body(), headers={"content-type": "text/event-stream"})


def factory(server: FakeServer, clock: FakeClock) -> ModelFactory:
    return ModelFactory(keys=KEYS, clock=clock, http_client=server.client(), deadlines=FAST)


async def read_all(stack: Model, shown: list[str] | None = None) -> str:
    """The streamed text; what arrived is in `shown` even when the stream fails."""
    shown = [] if shown is None else shown
    async with model_request_stream(stack, MESSAGES) as stream:
        async for event in stream:
            shown.append(text_delta(event))
    return "".join(shown)


async def test_a_provider_that_never_answers_fails_each_attempt_at_the_first_byte_deadline(
    server: FakeServer, clock: FakeClock
) -> None:
    server.queue(hang, hang, hang)
    stack = factory(server, clock).build(GPT)
    notices: list[RetryNotice] = []

    async def listen(notice: RetryNotice) -> None:
        notices.append(notice)

    started = time.monotonic()
    with retry_notices(listen), pytest.raises(errors.ProviderTimeout, match=r"within 0\.3 s"):
        await read_all(stack)
    elapsed = time.monotonic() - started
    assert len(server.requests) == 3, "each attempt timed out and was retried"
    assert elapsed < 3 * 0.3 + 1.5, f"3 attempts at a 0.3 s deadline took {elapsed:.1f} s"
    assert [(n.provider, n.attempt, n.attempts, n.error) for n in notices] == [
        ("openai", 2, 3, "ProviderTimeout"),
        ("openai", 3, 3, "ProviderTimeout"),
    ]


async def test_a_stream_that_goes_silent_fails_at_the_idle_deadline_and_keeps_no_duplicate(
    server: FakeServer, clock: FakeClock
) -> None:
    server.queue(stalls_after(3), openai_stream("never used"))
    stack = factory(server, clock).build(GPT)
    shown: list[str] = []
    started = time.monotonic()
    with pytest.raises(errors.ProviderTimeout, match="stalled"):
        await read_all(stack, shown)
    assert time.monotonic() - started < 2.0
    assert "".join(shown) == "word0 word1 word2 "
    assert len(server.requests) == 1, "text had reached the caller: no retry, no duplicated text"


async def test_without_a_listener_retries_are_silent(server: FakeServer, clock: FakeClock) -> None:
    server.queue(httpx2.Response(503, json={"error": {"message": "busy"}}), openai_stream("fine"))
    assert await read_all(factory(server, clock).build(GPT)) == "fine"


def test_the_deadlines_are_settings() -> None:
    settings = Settings.from_env(
        {"THINKTANK_MODEL_FIRST_BYTE_TIMEOUT": "12", "THINKTANK_MODEL_IDLE_TIMEOUT": "7.5"}
    )
    assert (settings.model_first_byte_timeout, settings.model_idle_timeout) == (12.0, 7.5)
    defaults = Settings.from_env({})
    assert 20 <= defaults.model_first_byte_timeout <= 30
    with pytest.raises(errors.ConfigurationError, match="THINKTANK_MODEL_IDLE_TIMEOUT"):
        Settings.from_env({"THINKTANK_MODEL_IDLE_TIMEOUT": "soon"})
