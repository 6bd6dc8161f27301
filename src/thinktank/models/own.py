"""Base for the models we run ourselves (scripted, local): write one chunk generator, get both
pydantic-ai entry points, streamed and not."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from thinktank.models.chat import ChatTurn, to_chat
from thinktank.models.layers import Opened, StreamLayer, StreamOpening
from thinktank.models.streaming import Chunk, TextStream


class OwnModel(StreamLayer, Model):
    """Base of the models we implement ourselves (scripted, local): request and stream from one generator."""

    provider_label: str

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def system(self) -> str:
        return self.provider_label

    @abstractmethod
    def generate(self, chat: list[ChatTurn], settings: ModelSettings) -> AsyncIterator[Chunk]:
        """Text deltas as they are produced, and the usage (last)."""

    async def complete(self, chat: list[ChatTurn], settings: ModelSettings) -> tuple[str, RequestUsage]:
        """The whole reply at once (a request nobody watches stream): the chunks, joined."""
        text: list[str] = []
        usage = RequestUsage()
        async for chunk in self.generate(chat, settings):
            if isinstance(chunk, RequestUsage):
                usage = chunk
            else:
                text.append(chunk)
        return "".join(text), usage

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        text, usage = await self.complete(to_chat(messages), model_settings or {})
        return ModelResponse(
            parts=[TextPart(text)],
            usage=usage,
            model_name=self._name,
            provider_name=self.provider_label,
            timestamp=datetime.now(UTC),
        )

    def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> StreamOpening:
        return Opened(
            TextStream(
                model_request_parameters=model_request_parameters,
                _model_name=self._name,
                _provider_name=self.provider_label,
                _chunks=self.generate(to_chat(messages), model_settings or {}),
            )
        )
