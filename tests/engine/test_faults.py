"""A 20-message discussion through a fault-injecting proxy (seeded: 429 with Retry-After, 500, 503,
connection resets, hangs, mid-stream drops) in front of an OpenAI-compatible server that, like
llama-cpp-python's, reports no usage when streaming. Every message must come out honest: in order,
never duplicated, marked incomplete exactly where its stream dropped, with tokens and cost, the
books adding up, and the whole run bounded by the timeouts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import httpx2
import pytest

from tests.engine.helpers import scripted_engine
from tests.fault_proxy import FAULTS, FakeCompatibleServer, FaultProxy
from tests.services import llama_cpp_server
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import ErrorOccurred
from thinktank.engine.members import Member
from thinktank.engine.totals import Line
from thinktank.models.guard import network_models
from thinktank.models.ids import SCRIPTED, parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.resilience.deadline import Deadlines
from thinktank.models.resilience.retry import RetryPolicy
from thinktank.models.stack import ModelFactory

MODEL = parse_model_id("openai-compatible:gpt-4o-mini")
DEADLINES = Deadlines(first_byte=0.6, idle=0.6)
RETRY = RetryPolicy(initial_delay=0.05, max_delay=2.0)
RETRY_AFTER = 1.0
# Per turn at worst: every attempt waits out a deadline or a Retry-After, plus the backoffs between.
TURN_BOUND = RETRY.max_attempts * (max(DEADLINES.first_byte, RETRY_AFTER) + RETRY.max_delay) + 2.0


@pytest.fixture
async def proxied_fake() -> AsyncIterator[FaultProxy]:
    upstream = FakeCompatibleServer(sentences=4, pause=0.01)
    proxy = FaultProxy(
        await upstream.start(), seed=16, rate=0.3, hang_s=DEADLINES.first_byte * 5, retry_after="1"
    )
    await proxy.start()
    yield proxy
    await proxy.close()
    await upstream.close()


def engine_behind(proxy: FaultProxy, *, messages: int, client: httpx2.AsyncClient) -> ConversationEngine:
    keys = ProviderKeys(openai_compatible_base_url=f"{proxy.url}/v1")
    factory = ModelFactory(keys=keys, deadlines=DEADLINES, retry_policy=RETRY, http_client=client)
    engine, _ = scripted_engine(template="startup-product-planning", messages=messages, factory=factory)
    chain = (MODEL, SCRIPTED)  # a breaker opened by a run of faults falls back to the scripted model
    for i, member in enumerate(engine.members):
        engine.members[i] = Member(member.persona, chain, factory.build_exact(chain))
    return engine


def sums(lines: dict[str, Line]) -> tuple[int, int, int, Decimal | None]:
    total = Line()
    for line in lines.values():
        total.add(line.usage, line.cost)
    return total.usage.input_tokens, total.usage.output_tokens, total.usage.requests, total.cost.billed


async def test_twenty_messages_through_injected_faults_keep_honest_books(proxied_fake: FaultProxy) -> None:
    proxy = proxied_fake
    started = time.monotonic()
    # Loopback only: the proxy and the fake server run in this process.
    async with httpx2.AsyncClient(timeout=DEADLINES.http_timeout()) as client:
        engine = engine_behind(proxy, messages=20, client=client)
        with network_models(True):
            await engine.run_auto()
    elapsed = time.monotonic() - started

    assert engine.status == "finished", engine.stop_reason
    faults = [f.fault for f in proxy.log]
    assert {"429", "500", "503", "reset", "hang", "drop"} & set(faults), "the seed injects faults"
    assert len(set(faults) - {"ok"}) >= 4, faults
    messages = engine.messages
    assert [m.index for m in messages] == list(range(len(messages))), "contiguous indices"
    replies = [m for m in messages if m.kind == "persona"]
    assert len(replies) == 20
    sentences = [s for m in replies for s in m.text.split(". ") if s.strip()]
    assert len(sentences) == len(set(sentences)), "no text is duplicated (no retried partial reply)"
    dropped = proxy.dropped()
    for m in replies:
        number = int(m.text[2 : m.text.index("]")]) if m.model_id == str(MODEL) else None
        assert m.incomplete == (number in dropped), (m.index, number, m.error)
        assert m.usage.input_tokens > 0
        assert m.usage.output_tokens > 0
        assert m.cost.known
        if m.model_id == str(MODEL):
            assert m.usage_estimated, "the server reported no usage: counted here"
            assert m.cost.billed is not None
            assert m.cost.billed > 0
    assert any(m.incomplete for m in replies), "the seed drops at least one stream mid-reply"
    totals = engine.totals
    grand = (
        totals.total.usage.input_tokens,
        totals.total.usage.output_tokens,
        totals.total.usage.requests,
        totals.total.cost.billed,
    )
    assert sums(totals.by_persona) == grand
    assert sums(totals.by_provider) == grand
    assert sums(totals.by_model) == grand
    for m in replies:
        assert m.latency_s is not None
        assert m.latency_s < TURN_BOUND, (m.index, m.latency_s)
    assert elapsed < 20 * TURN_BOUND


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    with llama_cpp_server() as url:
        # The first request pays for loading the weights: not something the deadlines should judge.
        warm = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        httpx.post(f"{url}/chat/completions", json=warm, timeout=120)
        yield url


@pytest.mark.local_model
async def test_a_discussion_through_injected_faults_in_front_of_llama_cpp_pythons_server(
    llama_server: str,
) -> None:
    """The same books, against a server nobody here wrote. Tiny replies keep it quick on a CPU; its
    prompt processing on a busy 2-core machine takes seconds, so hangs are left to the fake server's
    run above and the deadlines here are generous."""
    upstream = llama_server.removesuffix("/v1")
    deadlines = Deadlines(first_byte=60.0, idle=30.0)
    faults = tuple(f for f in FAULTS if f != "hang")
    proxy = FaultProxy(upstream, seed=7, rate=0.3, faults=faults, drop_after_events=3)
    await proxy.start()
    try:
        async with httpx2.AsyncClient(timeout=deadlines.http_timeout()) as client:
            keys = ProviderKeys(openai_compatible_base_url=f"{proxy.url}/v1")
            factory = ModelFactory(keys=keys, deadlines=deadlines, retry_policy=RETRY, http_client=client)
            engine, recorder = scripted_engine(template="security-review", messages=3, factory=factory)
            engine.config.reply_tokens = 8
            chain = (parse_model_id("openai-compatible:smollm2"), SCRIPTED)
            for i, member in enumerate(engine.members):
                engine.members[i] = Member(member.persona, chain, factory.build_exact(chain))
            with network_models(True):
                await engine.run_auto()
    finally:
        await proxy.close()
    assert engine.status == "finished", (
        engine.stop_reason,
        [f.fault for f in proxy.log],
        recorder.of(ErrorOccurred),
    )
    messages = engine.messages
    assert [m.index for m in messages] == list(range(len(messages)))
    replies = [m for m in messages if m.kind == "persona"]
    assert len(replies) == 3
    assert {f.fault for f in proxy.log} - {"ok"}, "the seed injects faults"
    for m in replies:
        assert m.model_id == str(chain[0]), (m.index, m.error)
        assert m.usage.input_tokens > 0
        assert m.usage.output_tokens > 0
        assert m.usage_estimated, "llama-cpp-python's stream carries no usage"
        assert m.usage.output_tokens <= 8, "the reply limit reached the server"
        assert m.incomplete == (m.error is not None)
    assert sum(m.incomplete for m in replies) <= len(proxy.dropped())
    totals = engine.totals
    grand = (
        totals.total.usage.input_tokens,
        totals.total.usage.output_tokens,
        totals.total.usage.requests,
        totals.total.cost.billed,
    )
    assert sums(totals.by_persona) == sums(totals.by_provider) == sums(totals.by_model) == grand
