"""Streamed responses built from plain text chunks.

Our own models (scripted, local) produce text chunks; wrappers that must add facts to a finished
response (which model answered, what it cost) re-emit the text of the stream they wrap. Both use
`TextStream`, a pydantic-ai `StreamedResponse`, so everything downstream sees one kind of stream.
ThinkTank speaks text only: a wrapped stream's tool-call or thinking parts are not forwarded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_ai.messages import (
    ModelResponse,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import StreamedResponse
from pydantic_ai.usage import RequestUsage

THINKTANK_METADATA_KEY = "thinktank"

Chunk = str | RequestUsage
"""A text delta, or the usage so far (replaces what was reported before)."""


@dataclass
class TextStream(StreamedResponse):
    """A stream over an async iterator of text deltas and usage reports."""

    _model_name: str
    _provider_name: str
    _chunks: AsyncIterator[Chunk]
    _on_finish: Callable[[TextStream], None] | None = None
    _timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    _unrecorded: list[str] = field(default_factory=list, init=False)
    """Text read through `text_deltas` that the parts manager has not been given yet."""

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        async for chunk in self._chunks:
            if isinstance(chunk, RequestUsage):
                self._usage = chunk
            elif chunk:
                for event in self._parts_manager.handle_text_delta(vendor_part_id="text", content=chunk):
                    yield event
        if self._on_finish is not None:
            self._on_finish(self)

    async def text_deltas(self) -> AsyncIterator[str]:
        """The text as it arrives, without pydantic-ai's stream events.

        Iterating the stream as events puts every chunk through the parts manager and three
        wrapping generators (final result, part end, cancel guard) that plain text does not need;
        ThinkTank reads its own streams, whose every reply is a few dozen chunks, this way. The
        final response (`get()`) is the same either way: the text received so far as one part,
        the usage, and complete only when the stream ran to its end.
        """
        async for chunk in self._chunks:
            if isinstance(chunk, RequestUsage):
                self._usage = chunk
            elif chunk:
                self._unrecorded.append(chunk)
                yield chunk
        self._finished = True
        self._record_text()
        if self._on_finish is not None:
            self._on_finish(self)

    def _record_text(self) -> None:
        """Give the parts manager the text read since it last heard (one call, not one per chunk).
        Its events are only taken, to record the text; nobody reads them here."""
        if self._unrecorded:
            text, self._unrecorded = "".join(self._unrecorded), []
            for _ in self._parts_manager.handle_text_delta(vendor_part_id="text", content=text):
                pass

    def get(self) -> ModelResponse:
        # A reader that stopped early (the speaker guard, the length cut) leaves the generator
        # suspended: what it read is the response all the same.
        self._record_text()
        return super().get()

    def wrap_chunks(self, wrap: Callable[[AsyncIterator[Chunk]], AsyncIterator[Chunk]]) -> None:
        """Pass this stream's chunks through `wrap` (a wrapper pacing them, for instance)."""
        self._chunks = wrap(self._chunks)

    async def close_stream(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str:
        return self._provider_name

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp


def text_delta(event: object) -> str:
    """The text a stream event adds ("" for events that add none)."""
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        return event.part.content
    if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        return event.delta.content_delta
    return ""


def text_deltas(stream: StreamedResponse) -> AsyncIterator[str]:
    """The text of any stream as it arrives: one of our own directly, another through its events."""
    if isinstance(stream, TextStream):
        return stream.text_deltas()
    return _event_text(stream)


async def _event_text(stream: StreamedResponse) -> AsyncIterator[str]:
    async for event in stream:
        if delta := text_delta(event):
            yield delta


UsageEstimate = Callable[[str], RequestUsage]
"""The usage of a reply whose provider reported none, given the reply's text."""


async def text_of(
    stream: StreamedResponse, *, missing_usage: UsageEstimate | None = None
) -> AsyncIterator[Chunk]:
    """Re-emit a stream as chunks: its text deltas, then its final usage (estimated by
    `missing_usage`, when given, if the stream finished without reporting any)."""
    pieces: list[str] = []
    async for delta in text_deltas(stream):
        pieces.append(delta)
        yield delta
    usage = stream.usage
    if missing_usage is not None and not (usage.input_tokens or usage.output_tokens):
        usage = missing_usage("".join(pieces))
    yield usage


def annotated_stream(
    inner: StreamedResponse,
    *,
    annotate: Callable[[StreamedResponse], dict[str, Any]],
    missing_usage: UsageEstimate | None = None,
) -> TextStream:
    """A stream with the text of `inner` whose final response carries `annotate(inner)` in metadata.

    One of our own streams is annotated in place (its finish hook is extended), so a stack of
    wrappers over a local or scripted model re-emits its text once, not once per wrapper. Our own
    streams always report usage, so `missing_usage` applies to a provider's stream only.
    """
    if isinstance(inner, TextStream):
        previous = inner._on_finish

        def extended(stream: TextStream) -> None:
            if previous is not None:
                previous(stream)
            merge_metadata(stream, annotate(stream))

        inner._on_finish = extended
        return inner

    def finish(outer: TextStream) -> None:
        # The inner stream may have learnt facts while streaming (an inner wrapper's, or the provider's).
        outer.metadata = {**(outer.metadata or {}), **(inner.metadata or {})}
        merge_metadata(outer, annotate(inner))

    outer = TextStream(
        model_request_parameters=inner.model_request_parameters,
        _model_name=inner.model_name,
        _provider_name=inner.provider_name or "",
        _chunks=text_of(inner, missing_usage=missing_usage),
        _on_finish=finish,
    )
    outer.metadata = dict(inner.metadata or {})
    outer.provider_response_id = inner.provider_response_id
    return outer


def merge_metadata(target: ModelResponse | StreamedResponse, facts: dict[str, Any]) -> None:
    """Add facts under our own key, keeping whatever the provider or an inner wrapper put there."""
    metadata = dict(target.metadata or {})
    ours = dict(metadata.get(THINKTANK_METADATA_KEY) or {})
    ours.update(facts)
    metadata[THINKTANK_METADATA_KEY] = ours
    target.metadata = metadata


def thinktank_facts(response: ModelResponse) -> dict[str, Any]:
    return dict((response.metadata or {}).get(THINKTANK_METADATA_KEY) or {})
