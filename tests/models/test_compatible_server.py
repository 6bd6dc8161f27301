"""The openai-compatible provider against a real server nobody here wrote: llama-cpp-python's own
OpenAI-compatible server with the bundled SmolLM2, started on a free loopback port (skipped with the
reason when it cannot start; required when THINKTANK_REQUIRE_SERVICES=1). It ignores
`max_completion_tokens` and sends no usage when streaming: the reply limit must still hold and the
tokens must still be counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from pydantic_ai.direct import model_request
from pydantic_ai.settings import ModelSettings

from tests.fakes import FakeClock, stream_pieces
from tests.models.test_providers import MESSAGES
from tests.services import llama_cpp_server
from thinktank.models.guard import network_models
from thinktank.models.ids import parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.resilience.deadline import Deadlines
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import thinktank_facts
from thinktank.models.tokens import counter_for

pytestmark = pytest.mark.local_model

SMOLLM2 = parse_model_id("openai-compatible:smollm2")
PRICED = parse_model_id("openai-compatible:gpt-4o-mini")
TINY: ModelSettings = {"max_tokens": 8, "temperature": 0.0, "seed": 7}


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_cpp_server() as url:
        yield url


@pytest.fixture
async def factory(server_url: str) -> AsyncIterator[ModelFactory]:
    keys = ProviderKeys(openai_compatible_base_url=server_url)
    # Loopback only: the server this module started.
    async with httpx2.AsyncClient(timeout=Deadlines().http_timeout()) as client:
        with network_models(True):
            yield ModelFactory(keys=keys, clock=FakeClock(), http_client=client)


async def test_the_reply_limit_holds_on_a_server_that_ignores_max_completion_tokens(
    factory: ModelFactory,
) -> None:
    response = await model_request(factory.build(SMOLLM2), MESSAGES, model_settings=TINY)
    assert 0 < response.usage.output_tokens <= 8, "the server's own count of what it generated"


async def test_a_streamed_reply_without_usage_is_counted_with_the_models_own_tokenizer(
    factory: ModelFactory,
) -> None:
    reported = await model_request(factory.build(SMOLLM2), MESSAGES, model_settings=TINY)
    pieces, streamed = await stream_pieces(factory.build(SMOLLM2), MESSAGES, settings=TINY)
    assert pieces
    facts = thinktank_facts(streamed)
    assert facts["usage_estimated"] is True, "llama-cpp-python sends no usage when streaming"
    text = "".join(pieces)
    assert streamed.usage.output_tokens == counter_for(SMOLLM2)(text)
    # Same seed, temperature 0: the same reply the server counted itself when not streaming.
    assert abs(streamed.usage.output_tokens - reported.usage.output_tokens) <= 1
    assert abs(streamed.usage.input_tokens - reported.usage.input_tokens) <= reported.usage.input_tokens // 4


async def test_a_priced_model_behind_such_a_server_is_not_free(factory: ModelFactory) -> None:
    pieces, streamed = await stream_pieces(factory.build(PRICED), MESSAGES, settings=TINY)
    assert pieces
    facts = thinktank_facts(streamed)
    assert facts["usage_estimated"] is True
    assert float(facts["cost"]["billed_usd"]) > 0
