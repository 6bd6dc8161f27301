"""Shared bits for the benchmark scripts: percentiles, a table printer, the JSON writer and a way
to watch the scripted model that always puts it back."""

from __future__ import annotations

import contextlib
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic_ai.usage import RequestUsage

from thinktank.engine.engine import ConversationEngine
from thinktank.engine.setup import ConversationSpec, start_conversation
from thinktank.library.loader import load_library
from thinktank.models.chat import ChatTurn, approximate_tokens
from thinktank.models.ids import SCRIPTED, ModelId
from thinktank.models.keys import ProviderKeys
from thinktank.models.local import LocalModelPool, resolve_local_path
from thinktank.models.scripted import ScriptedModel
from thinktank.models.stack import ModelFactory
from thinktank.models.streaming import Chunk

if TYPE_CHECKING:
    from llama_cpp.llama_types import ChatCompletionRequestMessage

RESULTS = Path(__file__).parent / "results"
PANEL = ["product-manager", "senior-engineer", "ux-designer", "end-user", "cfo"]
TOPIC = "How should we price the new enterprise tier?"
SERVER_START_SECONDS = 120.0
"""How long a benchmark waits for a server it starts: a busy shared machine needs more than 30 s."""


def panel_spec(*, messages: int, summary_model: ModelId | None = None) -> ConversationSpec:
    """The benchmarks' conversation: five personas on the scripted model, zero latency, seed 1."""
    return ConversationSpec(
        topic=TOPIC,
        persona_ids=PANEL,
        model_override=SCRIPTED,
        summary_model=summary_model,
        seed=1,
        turn_delay=0.0,
        max_messages=messages,
    )


def scripted_panel(
    *,
    messages: int,
    context_budget_tokens: int | None = None,
    summary_model: ModelId | None = None,
    local_pool: LocalModelPool | None = None,
) -> ConversationEngine:
    """The benchmarks' conversation as an engine of its own (no events kept, nothing stored)."""
    spec = panel_spec(messages=messages, summary_model=summary_model)
    if context_budget_tokens is not None:
        spec.context_budget_tokens = context_budget_tokens
    factory = ModelFactory(keys=ProviderKeys(), local_pool=local_pool)
    return start_conversation(spec, library=load_library(), factory=factory)


class ModelWatch:
    """What the scripted model did while watched: the seconds it spent making and handing out its
    replies and summaries, and the prompt of each (as the role/content turns it read)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.prompts: list[list[ChatTurn]] = []
        self.summary_prompts: list[list[ChatTurn]] = []


Replies = Callable[[list[ChatTurn]], str]


@contextlib.contextmanager
def watching_scripted_model(replies: Replies | None = None, *, whole: bool = False) -> Iterator[ModelWatch]:
    """Time the scripted model and keep its prompts; with `replies`, it streams what that function
    returns (word by word, as it streams its own; in one chunk with `whole`, as a model that hands
    its reply over whole) instead of writing a reply. The original methods are back on exit, so a
    benchmark run after this one (in `make bench`, the same process) measures the plain model."""
    original_generate: Callable[..., AsyncIterator[Chunk]] = ScriptedModel.generate
    original_complete = ScriptedModel.complete
    watch = ModelWatch()

    async def replay(chat: list[ChatTurn], text: str) -> AsyncIterator[Chunk]:
        for word in [text] if whole else re.findall(r"\S+\s*", text):
            yield word
        prompt = sum(approximate_tokens(t.content) for t in chat)
        yield RequestUsage(input_tokens=prompt, output_tokens=approximate_tokens(text))

    def generate(self: ScriptedModel, chat: list[ChatTurn], settings: Any) -> AsyncIterator[Chunk]:
        watch.prompts.append(chat)
        started = time.perf_counter()
        inner = original_generate(self, chat, settings) if replies is None else replay(chat, replies(chat))
        watch.seconds += time.perf_counter() - started
        return _Timed(inner, watch)

    async def complete(self: ScriptedModel, chat: list[ChatTurn], settings: Any) -> tuple[str, RequestUsage]:
        watch.summary_prompts.append(chat)
        started = time.perf_counter()
        try:
            return await original_complete(self, chat, settings)
        finally:
            watch.seconds += time.perf_counter() - started

    ScriptedModel.generate = generate  # type: ignore[method-assign]
    ScriptedModel.complete = complete  # type: ignore[method-assign]
    try:
        yield watch
    finally:
        ScriptedModel.generate = original_generate  # type: ignore[method-assign]
        ScriptedModel.complete = original_complete  # type: ignore[method-assign]


class _Timed:
    """The model's chunks, each one's making timed into the watch. A plain iterator, not an async
    generator: the model it times is one generator already (as `ScriptedModel.generate` is), and a
    second one would add the event loop's bookkeeping for async generators to the turn's overhead,
    which is the benchmark's, not ThinkTank's."""

    __slots__ = ("_inner", "_watch")

    def __init__(self, inner: AsyncIterator[Chunk], watch: ModelWatch) -> None:
        self._inner = inner
        self._watch = watch

    def __aiter__(self) -> _Timed:
        return self

    async def __anext__(self) -> Chunk:
        started = time.perf_counter()
        try:
            return await self._inner.__anext__()
        finally:
            self._watch.seconds += time.perf_counter() - started

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(round(pct / 100 * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def write(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **data,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"  -> {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path


class LocalTokenizer:
    """Counts tokens as the bundled local model (SmolLM2-135M) counts them: plain text with its
    tokenizer, a chat with its own chat template applied first, as llama-cpp-python does before it
    generates."""

    def __init__(self) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.pool = LocalModelPool()
        self.llama = self.pool.get(resolve_local_path("smollm2")).llama
        metadata = self.llama.metadata
        # The formatter llama-cpp-python builds from the model file's own template when it chats.
        self._formatter = Jinja2ChatFormatter(
            template=metadata["tokenizer.chat_template"],
            eos_token=self.llama._model.token_get_text(self.llama.token_eos()),
            bos_token=self.llama._model.token_get_text(self.llama.token_bos()),
        )

    def count(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=False)) if text else 0

    def count_chat(self, turns: list[ChatTurn]) -> int:
        """The prompt tokens of these turns as the model receives them (template and all)."""
        messages = [
            cast("ChatCompletionRequestMessage", {"role": t.role, "content": t.content}) for t in turns
        ]
        prompt = self._formatter(messages=messages).prompt
        return len(self.llama.tokenize(prompt.encode(), add_bos=False, special=True))

    def close(self) -> None:
        self.pool.close()
