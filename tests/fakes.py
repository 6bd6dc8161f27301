"""Test doubles: a fake provider server behind httpx2's MockTransport (the real SDKs parse its
answers), a fault-injecting model, and a fake clock."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from thinktank.models.streaming import TextStream


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


Handler = Callable[[httpx2.Request], httpx2.Response | Awaitable[httpx2.Response]]
"""Answers one request, at once or after awaiting (a provider that hangs, or answers late)."""


@dataclass
class FakeServer:
    """Answers provider requests in order from `responses`; records every request."""

    responses: list[httpx2.Response | Handler] = field(default_factory=list)
    requests: list[httpx2.Request] = field(default_factory=list)
    always: Handler | None = None
    """Answers every request instead of the queue: a provider that keeps answering one way."""

    def queue(self, *responses: httpx2.Response | Handler) -> FakeServer:
        self.responses.extend(responses)
        return self

    async def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.always is not None:
            reply = self.always(request)
        elif not self.responses:
            return httpx2.Response(500, json={"error": {"message": "fake server has no more responses"}})
        else:
            answer = self.responses.pop(0)
            reply = answer(request) if callable(answer) else answer
        return reply if isinstance(reply, httpx2.Response) else await reply

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle), timeout=30.0)

    def json_body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def first_text(response: ModelResponse) -> str:
    """The text of a response's first part (a text part in every reply these fakes and models give)."""
    part = response.parts[0]
    assert isinstance(part, TextPart), part
    return part.content


def sse(events: list[dict[str, Any]], *, named: bool = False, done: bool = False) -> httpx2.Response:
    lines = []
    for event in events:
        if named:
            lines.append(f"event: {event['type']}\n")
        lines.append(f"data: {json.dumps(event)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return httpx2.Response(200, text="".join(lines), headers={"content-type": "text/event-stream"})


class FaultyModel(Model):
    """Fails with the queued exceptions, then answers `text`. Counts its calls."""

    def __init__(
        self,
        *failures: Exception,
        text: str = "fine",
        provider: str = "faulty",
        fail_mid_stream: bool = False,
    ):
        super().__init__()
        self.failures = list(failures)
        self.text = text
        self._provider_label = provider
        self.calls = 0
        self.fail_mid_stream = fail_mid_stream

    @property
    def model_name(self) -> str:
        return "faulty"

    @property
    def system(self) -> str:
        return self._provider_label

    def _next(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        params: ModelRequestParameters,
    ) -> ModelResponse:
        self._next()
        return ModelResponse(
            parts=[TextPart(self.text)],
            usage=RequestUsage(input_tokens=10, output_tokens=2),
            model_name="faulty",
            provider_name=self._provider_label,
        )

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        params: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        if not self.fail_mid_stream:
            self._next()
        else:
            self.calls += 1

        async def chunks() -> Any:
            yield "partial "
            if self.fail_mid_stream and self.failures:
                raise self.failures.pop(0)
            yield self.text
            yield RequestUsage(input_tokens=10, output_tokens=2)

        yield TextStream(
            model_request_parameters=params,
            _model_name="faulty",
            _provider_name=self._provider_label,
            _chunks=chunks(),
        )


async def stream_pieces(
    model: Model, messages: list[ModelMessage], *, settings: ModelSettings | None = None
) -> tuple[list[str], ModelResponse]:
    """Stream a request through `model`: the text pieces in arrival order, and the final response."""
    from pydantic_ai.direct import model_request_stream

    from thinktank.models.streaming import text_of

    pieces: list[str] = []
    async with model_request_stream(model, messages, model_settings=settings) as stream:
        async for chunk in text_of(stream):
            if isinstance(chunk, str) and chunk:
                pieces.append(chunk)
        return pieces, stream.get()


def dropping_sse(events: list[dict[str, Any]], *, drop_after: int) -> httpx2.Response:
    """A stream that sends `drop_after` events and then loses its connection (a reset mid-reply)."""

    async def body() -> AsyncIterator[bytes]:
        for event in events[:drop_after]:
            yield f"data: {json.dumps(event)}\n\n".encode()
        raise httpx2.ReadError("connection reset by peer")

    return httpx2.Response(200, content=body(), headers={"content-type": "text/event-stream"})
