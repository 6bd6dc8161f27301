"""Our own streams read as plain text give the same final response as when read as pydantic-ai
events: the text so far as one part, the usage, and complete only when read to the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic_ai.messages import TextPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.usage import RequestUsage

from thinktank.models.streaming import Chunk, TextStream, text_delta, text_deltas

USAGE = RequestUsage(input_tokens=12, output_tokens=3)


def stream() -> TextStream:
    async def chunks() -> AsyncIterator[Chunk]:
        for piece in ("We should ", "ship in ", "two stages."):
            yield piece
        yield USAGE

    return TextStream(
        model_request_parameters=ModelRequestParameters(),
        _model_name="scripted",
        _provider_name="scripted",
        _chunks=chunks(),
    )


def text_of_parts(parts: object) -> str:
    assert isinstance(parts, list)
    return "".join(p.content for p in parts if isinstance(p, TextPart))


async def test_read_to_the_end_as_text_or_as_events_the_response_is_the_same() -> None:
    as_text = stream()
    pieces = [piece async for piece in text_deltas(as_text)]
    as_events = stream()
    event_pieces = [d async for event in as_events if (d := text_delta(event))]

    assert pieces == event_pieces == ["We should ", "ship in ", "two stages."]
    read, evented = as_text.get(), as_events.get()
    assert text_of_parts(read.parts) == text_of_parts(evented.parts) == "We should ship in two stages."
    assert read.usage == evented.usage == USAGE
    assert read.state == evented.state == "complete"


async def test_a_reader_that_stops_early_leaves_what_was_said_marked_incomplete() -> None:
    cut = stream()
    async for _ in text_deltas(cut):
        break
    response = cut.get()
    assert text_of_parts(response.parts) == "We should "
    assert response.state == "incomplete"
