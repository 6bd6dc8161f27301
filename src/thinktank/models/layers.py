"""Opening a streamed reply through our own model layers, and a provider's model as pydantic-ai does.

Every layer of a persona's model stack (cost, fallback, breaker, retry, deadline, error translation)
and each model we run ourselves (scripted, local) is a pydantic-ai `Model`, so anything that speaks
pydantic-ai can use the stack. pydantic-ai, though, wraps the `request_stream` of each `Model`
class it sees in two more context managers (one restores a provider's special tokens, one budgets
the files a request downloads); a reply through the five layers over one of our own models opened
fifteen context managers, most of a turn's fixed cost when the model itself is instant. Our
layers pass a request on and write no provider's tokens, so they open each other with
`open_stream`, which nothing wraps. The one layer that meets a model not ours (a provider's)
opens it exactly as pydantic-ai's direct API does (`model_request_stream`: its message
preparation, its request timeout, its wrappers).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Generic, TypeVar

from pydantic_ai.direct import model_request_stream
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

StreamOpening = AbstractAsyncContextManager[StreamedResponse]

_PLAIN_TEXT = ModelRequestParameters()
"""A request's parameters when the caller gives none: no tools, text out. One instance serves every
request (building one costs 2 µs a reply); nothing of ours changes it."""


class StreamLayer(ABC):
    """A model of ours that opens its streams with `open_stream`. Mixed in before pydantic-ai's
    `Model` (or `WrapperModel`), whose `request_stream` then delegates here."""

    @abstractmethod
    def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> StreamOpening:
        """The layer's stream, opened through the layer below (`open_stream(self.wrapped, ...)`)."""

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        # No layer of ours uses a run context: ThinkTank calls no tools.
        async with self.open_stream(messages, model_settings, model_request_parameters) as stream:
            yield stream


def open_stream(
    model: Model,
    messages: Sequence[ModelMessage],
    model_settings: ModelSettings | None = None,
    model_request_parameters: ModelRequestParameters | None = None,
) -> StreamOpening:
    """Open a streamed request: through a layer of ours directly, through pydantic-ai otherwise."""
    opener = _layer_opener(type(model))
    if opener is not None:
        return opener(model, messages, model_settings, model_request_parameters or _PLAIN_TEXT)
    return model_request_stream(
        model, messages, model_settings=model_settings, model_request_parameters=model_request_parameters
    )


@functools.cache
def _layer_opener(kind: type) -> Callable[..., StreamOpening] | None:
    """The class's own `open_stream` if it is a layer of ours. Asked of every layer on every reply:
    `isinstance` against an ABC runs Python code in ABCMeta each time, a cached answer per class is
    a dictionary lookup."""
    return kind.open_stream if issubclass(kind, StreamLayer) else None


class Opened:
    """An opening whose stream is ready (one of our own models builds it on the spot)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: StreamedResponse) -> None:
        self._stream = stream

    async def __aenter__(self) -> StreamedResponse:
        return self._stream

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


class Mapped:
    """The stream the layer below opens, changed once open (annotated, re-emitted): a layer that
    only changes the stream needs no generator of its own around the one below."""

    __slots__ = ("_change", "_inner")

    def __init__(self, inner: StreamOpening, change: Callable[[StreamedResponse], StreamedResponse]) -> None:
        self._inner = inner
        self._change = change

    async def __aenter__(self) -> StreamedResponse:
        stream = await self._inner.__aenter__()
        try:
            return self._change(stream)
        except BaseException as exc:
            await self._inner.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(kind, error, trace)


class Entered:
    """Leaves an opening that was entered by hand (to tell a failure to open from a failure of the
    stream) the way `async with` would have: an `async with Entered(opening):` around the rest."""

    __slots__ = ("_opening",)

    def __init__(self, opening: StreamOpening) -> None:
        self._opening = opening

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        return await self._opening.__aexit__(kind, error, trace)


Layer = TypeVar("Layer", bound=WrapperModel)


class BelowOpening(Generic[Layer]):
    """A layer's opening as a plain class (a generator-based context manager costs a turn more than
    the work it wraps when the model is instant): the request, opened through the layer below when
    the caller enters (so what the layer does first happens then, as it would in a request), and
    left the way that opening is left. Subclasses enter; `_opened` is the opening they entered."""

    __slots__ = ("_layer", "_messages", "_opened", "_parameters", "_settings")

    def __init__(
        self,
        layer: Layer,
        messages: Sequence[ModelMessage],
        settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> None:
        self._layer = layer
        self._messages = messages
        self._settings = settings
        self._parameters = parameters
        self._opened: StreamOpening | None = None

    def _open_below(self) -> StreamOpening:
        return open_stream(self._layer.wrapped, self._messages, self._settings, self._parameters)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        assert self._opened is not None, "left without having been entered"
        return await self._opened.__aexit__(kind, error, trace)
