"""The bundled SmolLM2 model through llama-cpp-python: real tokens, real counts, shared safely."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic_ai.direct import model_request
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    SystemPromptPart,
    UserPromptPart,
)

from tests.fakes import first_text, stream_pieces
from thinktank import errors
from thinktank.models.local import LocalModel, LocalModelPool, bundled_model_path

pytestmark = pytest.mark.local_model

MESSAGES: list[ModelMessage] = [
    ModelRequest(
        parts=[
            SystemPromptPart("You are Alex Chen, a senior software engineer. Answer in one sentence."),
            UserPromptPart("Michael Kim (Product Manager): What should we measure in onboarding?"),
        ]
    )
]


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalModelPool]:
    pool = LocalModelPool(n_ctx=1024)
    yield pool
    pool.close()


def test_the_bundled_file_ships_in_the_wheel() -> None:
    path = bundled_model_path()
    assert path is not None
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50_000_000


async def test_streams_real_tokens_with_real_counts(pool: LocalModelPool) -> None:
    model = LocalModel("smollm2", pool=pool, max_tokens=24, temperature=0.0)
    deltas, response = await stream_pieces(model, MESSAGES)
    text = "".join(deltas)
    assert len(deltas) > 3, "tokens must arrive one by one"
    assert text.strip()
    assert first_text(response) == text
    assert 0 < response.usage.output_tokens <= 24
    # The prompt holds the system prompt and the question: dozens of tokens, counted by the tokenizer.
    assert 30 < response.usage.input_tokens < 200
    assert response.provider_name == "local"


async def test_concurrent_requests_share_one_loaded_model_and_do_not_block_the_loop(
    pool: LocalModelPool,
) -> None:
    model = LocalModel("smollm2", pool=pool, max_tokens=12, temperature=0.0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(ticker())
    first, second = await asyncio.gather(model_request(model, MESSAGES), model_request(model, MESSAGES))
    beat.cancel()
    assert first_text(first) == first_text(second)
    assert ticks > 5, "the event loop kept running while the model generated"
    assert len(pool._loaded) == 1


def test_a_missing_gguf_file_is_a_clear_failure() -> None:
    with pytest.raises(errors.ModelFailed, match="not found"):
        LocalModel("/nowhere/model.gguf")
