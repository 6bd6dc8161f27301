"""Local model tokens per second: through our whole stack vs. raw llama-cpp-python.

Same model file, same loaded context, same prompt and sampling settings, greedy decoding so
both produce the same tokens; alternated, median of the rounds. Target: ratio >= 0.95.
"""

from __future__ import annotations

import asyncio
import time

from pydantic_ai.direct import model_request_stream
from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart

from _common import median, table, write
from thinktank.models.ids import LOCAL_DEFAULT
from thinktank.models.keys import ProviderKeys
from thinktank.models.local import REPEAT_PENALTY, LocalModelPool, resolve_local_path
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import text_deltas

ROUNDS = 3
MAX_TOKENS = 160
SYSTEM = "You are Alex Chen, a senior software engineer. Answer in a short paragraph."
QUESTION = "Michael Kim (Product Manager): How should we design the onboarding flow of our SaaS product?"


def raw_run(pool: LocalModelPool) -> tuple[int, float]:
    loaded = pool.get(resolve_local_path("smollm2"))
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    started = time.perf_counter()
    pieces = []
    for chunk in loaded.llama.create_chat_completion(
        messages=messages, stream=True, max_tokens=MAX_TOKENS, temperature=0.0, repeat_penalty=REPEAT_PENALTY
    ):
        if delta := chunk["choices"][0]["delta"].get("content"):
            pieces.append(delta)
    elapsed = time.perf_counter() - started
    tokens = len(loaded.llama.tokenize("".join(pieces).encode(), add_bos=False, special=False))
    return tokens, elapsed


async def stack_run(factory: ModelFactory) -> tuple[int, float]:
    model = factory.build(LOCAL_DEFAULT)
    request = [ModelRequest(parts=[SystemPromptPart(SYSTEM), UserPromptPart(QUESTION)])]
    started = time.perf_counter()
    async with model_request_stream(
        model, request, model_settings={"max_tokens": MAX_TOKENS, "temperature": 0.0}
    ) as stream:
        async for _ in text_deltas(stream):  # as a persona's reply is read
            pass
        response = stream.get()
    return response.usage.output_tokens, time.perf_counter() - started


async def main() -> dict[str, object]:
    pool = LocalModelPool()
    factory = ModelFactory(keys=ProviderKeys(), local_pool=pool)
    raw_run(pool)  # load and warm up once, outside the measurement
    raw_rates, stack_rates, tokens = [], [], []
    for _ in range(ROUNDS):
        count, seconds = raw_run(pool)
        raw_rates.append(count / seconds)
        count_stack, seconds_stack = await stack_run(factory)
        stack_rates.append(count_stack / seconds_stack)
        tokens.append((count, count_stack))
    pool.close()
    raw, ours = median(raw_rates), median(stack_rates)
    ratio = ours / raw
    table(
        f"Local model throughput (SmolLM2-135M, {MAX_TOKENS} max tokens, greedy,"
        f" median of {ROUNDS} alternated rounds)",
        ["", "tokens/s", "tokens generated"],
        [
            ["raw llama-cpp-python", f"{raw:.1f}", tokens[0][0]],
            ["through ThinkTank's stack", f"{ours:.1f}", tokens[0][1]],
            ["ratio", f"{ratio:.3f}", ""],
        ],
    )
    print(f"  target ratio >= 0.95: {'meets' if ratio >= 0.95 else 'misses'}")
    write(
        "local_throughput",
        {
            "raw_tokens_per_s": raw,
            "stack_tokens_per_s": ours,
            "ratio": ratio,
            "rounds": ROUNDS,
            "tokens": tokens,
        },
    )
    return {"ratio": ratio}


if __name__ == "__main__":
    asyncio.run(main())
