"""Count tokens ourselves when a provider reports none (servers that ignore `include_usage`, streams
that break before their usage chunk), so that no reply is booked as 0 tokens and $0.

Where the model is known to be the bundled SmolLM2 (`local:smollm2`, or an OpenAI-compatible server
serving it), its own tokenizer counts; otherwise the documented approximation of ~4 characters a
token (`models.chat.approximate_tokens`). A prompt adds a few tokens per turn for the chat template.
"""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Callable, Sequence

from pydantic_ai.messages import ModelMessage
from pydantic_ai.usage import RequestUsage

from thinktank.models.chat import approximate_tokens, to_chat
from thinktank.models.ids import BUNDLED_LOCAL_MODEL, ModelId
from thinktank.models.local import bundled_model_path

TOKENS_PER_TURN = 4
"""The chat template's role markers around each turn (OpenAI documents 3-4; ChatML uses 4-5)."""

Counter = Callable[[str], int]


@functools.cache
def _bundled_tokenizer() -> Counter | None:
    """The bundled GGUF's vocabulary alone (no weights): quick to load, exact counts."""
    path = bundled_model_path()
    if path is None:
        return None
    try:
        from llama_cpp import Llama

        vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    except Exception:
        return None
    # llama-cpp's own finaliser fails if it runs during interpreter shutdown (see LocalModelPool.close).
    atexit.register(vocab.close)
    lock = threading.Lock()

    def count(text: str) -> int:
        with lock:
            return len(vocab.tokenize(text.encode(), add_bos=False, special=False)) if text else 0

    return count


def counter_for(model_id: ModelId) -> Counter:
    """The most exact token counter we have for this model."""
    if BUNDLED_LOCAL_MODEL in model_id.name.lower():
        return _bundled_tokenizer() or approximate_tokens
    return approximate_tokens


def count_prompt(model_id: ModelId, messages: Sequence[ModelMessage]) -> int:
    count = counter_for(model_id)
    turns = to_chat(messages)
    return sum(count(turn.content) + TOKENS_PER_TURN for turn in turns)


def estimate_usage(model_id: ModelId, messages: Sequence[ModelMessage], reply: str) -> RequestUsage:
    return RequestUsage(
        input_tokens=count_prompt(model_id, messages), output_tokens=counter_for(model_id)(reply)
    )
