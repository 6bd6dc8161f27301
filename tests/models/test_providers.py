"""Each cloud adapter through the whole stack, with the provider's real wire format on a fake
transport, so the official SDK parses every byte; streamed and not, with usage and cost."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    SystemPromptPart,
    UserPromptPart,
)

from tests.fakes import FakeClock, FakeServer, first_text, sse, stream_pieces
from thinktank import errors
from thinktank.models.chat import approximate_tokens, to_chat
from thinktank.models.ids import parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.resilience.retry import RetryPolicy
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import thinktank_facts
from thinktank.pricing.prices import Pricer

KEYS = ProviderKeys(
    anthropic="sk-ant-test",
    openai="sk-openai-test",
    google="google-test",
    openai_compatible_base_url="http://127.0.0.1:11434/v1",
)
MESSAGES: list[ModelMessage] = [
    ModelRequest(
        parts=[SystemPromptPart("You are Alex Chen, a Senior Software Engineer."), UserPromptPart("Hi all")]
    )
]


def factory(server: FakeServer, clock: FakeClock) -> ModelFactory:
    return ModelFactory(keys=KEYS, clock=clock, http_client=server.client(), retry_policy=RetryPolicy())


def openai_json(text: str = "Hello from GPT", *, model: str = "gpt-4.1-mini") -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
        },
    )


def openai_chunks(*pieces: str, model: str = "gpt-4.1-mini", usage: bool = True) -> list[dict[str, Any]]:
    """The chunks of a streamed chat completion; `usage=False` as from a server that ignores
    `stream_options.include_usage` (llama-cpp-python, for one)."""
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model}
    events: list[dict[str, Any]] = [
        {
            **chunk,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None}],
        }
        for p in pieces
    ]
    events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        events.append(
            {
                **chunk,
                "choices": [],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
            }
        )
    return events


def openai_stream(*pieces: str, model: str = "gpt-4.1-mini", usage: bool = True) -> httpx2.Response:
    return sse(openai_chunks(*pieces, model=model, usage=usage), done=True)


def anthropic_json(text: str = "Hello from Claude") -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-7-sonnet-20250219",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1000, "output_tokens": 500},
        },
    )


def anthropic_stream(*pieces: str) -> httpx2.Response:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-7-sonnet-20250219",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 500},
        },
        {"type": "message_stop"},
    ]
    return sse(events, named=True)


def gemini_payload(text: str) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 500, "totalTokenCount": 1500},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }


def gemini_json(text: str = "Hello from Gemini") -> httpx2.Response:
    return httpx2.Response(200, json=gemini_payload(text))


def gemini_stream(*pieces: str) -> httpx2.Response:
    events = [gemini_payload(p) for p in pieces]
    for event in events[:-1]:
        event["usageMetadata"] = {"promptTokenCount": 1000, "totalTokenCount": 1000}
        event["candidates"][0].pop("finishReason")
    return sse(events)


CASES = [
    ("openai:gpt-4.1-mini", openai_json, openai_stream, "api.openai.com", "/v1/chat/completions"),
    (
        "anthropic:claude-3-7-sonnet-20250219",
        anthropic_json,
        anthropic_stream,
        "api.anthropic.com",
        "/v1/messages",
    ),
    (
        "google:gemini-2.5-flash",
        gemini_json,
        gemini_stream,
        "generativelanguage.googleapis.com",
        "gemini-2.5-flash",
    ),
    ("openai-compatible:gpt-4o-mini", openai_json, openai_stream, "127.0.0.1", "/v1/chat/completions"),
]


def expected_cost(model: str) -> Decimal:
    model_id = parse_model_id(model)
    cost = Pricer().price(model_id, input_tokens=1000, output_tokens=500)
    assert cost.raw is not None
    return cost.raw


@pytest.mark.parametrize(("model", "json_answer", "_stream", "host", "path"), CASES)
async def test_non_streamed_request_reports_text_usage_and_cost(
    server: FakeServer, clock: FakeClock, model: str, json_answer, _stream, host: str, path: str
) -> None:
    server.queue(json_answer("Hello there"))
    stack = factory(server, clock).build(parse_model_id(model))
    response = await model_request(stack, MESSAGES)
    assert first_text(response) == "Hello there"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 500)
    facts = thinktank_facts(response)
    assert facts["model_id"] == model
    raw = expected_cost(model)
    assert Decimal(facts["cost"]["raw_usd"]) == raw > 0
    assert Decimal(facts["cost"]["billed_usd"]) == raw * Decimal("1.2")
    request = server.requests[0]
    assert request.url.host == host
    assert path in request.url.path


@pytest.mark.parametrize(("model", "_json", "stream_answer", "host", "_path"), CASES)
async def test_streamed_request_yields_deltas_then_usage_and_cost(
    server: FakeServer, clock: FakeClock, model: str, _json, stream_answer, host: str, _path: str
) -> None:
    server.queue(stream_answer("Hel", "lo ", "world"))
    stack = factory(server, clock).build(parse_model_id(model))
    deltas, response = await stream_pieces(stack, MESSAGES)
    assert "".join(deltas) == "Hello world"
    assert len(deltas) >= 2, "text must arrive in pieces, not all at the end"
    assert response.state == "complete"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 500)
    facts = thinktank_facts(response)
    assert facts["model_id"] == model
    assert Decimal(facts["cost"]["raw_usd"]) == expected_cost(model)
    assert server.requests[0].url.host == host


def test_the_system_prompt_reaches_the_provider_in_its_own_field(
    server: FakeServer, clock: FakeClock
) -> None:
    import asyncio

    server.queue(anthropic_json())
    stack = factory(server, clock).build(parse_model_id("anthropic:claude-3-7-sonnet-20250219"))
    asyncio.run(model_request(stack, MESSAGES))
    body = server.json_body()
    system = body["system"]
    system_text = system if isinstance(system, str) else " ".join(block["text"] for block in system)
    assert "Alex Chen" in system_text
    assert body["messages"][0]["role"] == "user"
    headers = server.requests[0].headers
    assert "sk-ant-test" in headers.get("x-api-key", "") + headers.get("authorization", "")


def error(status: int, message: str = "nope", **headers: str) -> httpx2.Response:
    return httpx2.Response(
        status, json={"error": {"message": message, "type": "error", "code": None}}, headers=headers
    )


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"retry-after": "7"}, errors.RateLimited),
        (401, {}, errors.Unauthorized),
        (403, {}, errors.Unauthorized),
        (400, {}, errors.InvalidRequest),
        (500, {}, errors.ProviderUnavailable),
        (503, {}, errors.ProviderUnavailable),
        (504, {}, errors.ProviderTimeout),
        (408, {}, errors.ProviderTimeout),
    ],
)
async def test_provider_errors_map_into_one_tree(
    server: FakeServer, status: int, headers: dict[str, str], expected: type[errors.ProviderFailure]
) -> None:
    clock = FakeClock()
    server.queue(*[error(status, **headers)] * 3)
    stack = ModelFactory(
        keys=KEYS, clock=clock, http_client=server.client(), retry_policy=RetryPolicy(max_attempts=1)
    ).build(parse_model_id("openai:gpt-4.1-mini"))
    with pytest.raises(expected) as raised:
        await model_request(stack, MESSAGES)
    assert raised.value.provider == "openai"
    assert len(server.requests) == 1, "the SDK's own retries must be off; ours decide"
    if expected is errors.RateLimited:
        assert isinstance(raised.value, errors.RateLimited)
        assert raised.value.retry_after == 7.0


async def test_timeout_maps_to_provider_timeout(clock: FakeClock) -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    server = FakeServer().queue(slow)
    stack = ModelFactory(
        keys=KEYS, clock=clock, http_client=server.client(), retry_policy=RetryPolicy(max_attempts=1)
    ).build(parse_model_id("anthropic:claude-3-7-sonnet-20250219"))
    with pytest.raises(errors.ProviderTimeout):
        await model_request(stack, MESSAGES)


async def test_content_refusal_maps_to_content_refused(server: FakeServer, clock: FakeClock) -> None:
    server.queue(
        httpx2.Response(
            200,
            json={
                "id": "chatcmpl-2",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4.1-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None},
                        "finish_reason": "content_filter",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 0, "total_tokens": 10},
            },
        )
    )
    stack = ModelFactory(
        keys=KEYS, clock=clock, http_client=server.client(), retry_policy=RetryPolicy(max_attempts=1)
    )
    with pytest.raises(errors.ContentRefused):
        await model_request(stack.build(parse_model_id("openai:gpt-4.1-mini")), MESSAGES)


async def test_the_network_switch_refuses_real_provider_calls(clock: FakeClock) -> None:
    stack = ModelFactory(keys=KEYS, clock=clock).build(parse_model_id("openai:gpt-4.1-mini"))
    with pytest.raises(errors.NetworkModelsForbidden):
        await model_request(stack, MESSAGES)


@pytest.mark.parametrize(
    ("model", "field", "absent"),
    [
        ("openai-compatible:smollm2", "max_tokens", "max_completion_tokens"),
        ("openai:gpt-4.1-mini", "max_completion_tokens", "max_tokens"),
    ],
)
async def test_the_reply_limit_is_sent_in_the_field_the_server_reads(
    server: FakeServer, clock: FakeClock, model: str, field: str, absent: str
) -> None:
    """llama.cpp-style servers ignore `max_completion_tokens`: a limit sent that way is no limit."""
    server.queue(openai_stream("Short."), openai_json("Short."))
    stack = factory(server, clock).build(parse_model_id(model))
    async with model_request_stream(stack, MESSAGES, model_settings={"max_tokens": 42}) as stream:
        async for _ in stream:
            pass
    await model_request(stack, MESSAGES, model_settings={"max_tokens": 42})
    for index in (0, 1):
        body = server.json_body(index)
        assert body[field] == 42
        assert absent not in body


COMPATIBLE_PRICED = "openai-compatible:gpt-4o-mini"


async def test_a_stream_without_usage_is_counted_and_priced_not_booked_as_free(
    server: FakeServer, clock: FakeClock
) -> None:
    reply = ["The launch ", "should wait ", "for the accessibility audit."]
    server.queue(openai_stream(*reply, model="gpt-4o-mini", usage=False))
    stack = factory(server, clock).build(parse_model_id(COMPATIBLE_PRICED))
    _, response = await stream_pieces(stack, MESSAGES)
    facts = thinktank_facts(response)
    assert facts["usage_estimated"] is True
    prompt = sum(len(t.content) for t in to_chat(MESSAGES))
    assert response.usage.input_tokens >= prompt // 4
    assert response.usage.output_tokens == approximate_tokens("".join(reply))
    assert Decimal(facts["cost"]["billed_usd"]) > 0


async def test_an_answer_without_usage_is_counted_too(server: FakeServer, clock: FakeClock) -> None:
    answer = openai_json("Counted here.", model="gpt-4o-mini")
    payload = json.loads(answer.content)
    del payload["usage"]
    server.queue(httpx2.Response(200, json=payload))
    stack = factory(server, clock).build(parse_model_id(COMPATIBLE_PRICED))
    response = await model_request(stack, MESSAGES)
    assert thinktank_facts(response)["usage_estimated"] is True
    assert response.usage.output_tokens == approximate_tokens("Counted here.")
    assert Decimal(thinktank_facts(response)["cost"]["raw_usd"]) > 0


async def test_a_stream_with_usage_is_not_marked_estimated(server: FakeServer, clock: FakeClock) -> None:
    server.queue(openai_stream("Reported.", model="gpt-4o-mini"))
    stack = factory(server, clock).build(parse_model_id(COMPATIBLE_PRICED))
    _, response = await stream_pieces(stack, MESSAGES)
    assert "usage_estimated" not in thinktank_facts(response)
    assert response.usage.output_tokens == 500
