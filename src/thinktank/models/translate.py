"""Map pydantic-ai's provider exceptions into our error tree (see `thinktank.errors`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn

from pydantic_ai import exceptions as pai
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from thinktank import errors
from thinktank.models.guard import check_network_allowed
from thinktank.models.ids import ModelId
from thinktank.models.layers import StreamLayer, open_stream
from thinktank.models.streaming import annotated_stream, merge_metadata
from thinktank.models.tokens import estimate_usage

TIMEOUT_STATUSES = (408, 504)


def translate_error(exc: Exception, *, provider: str) -> errors.ProviderFailure | None:
    """Our error for a provider exception, or None when `exc` is not a provider failure."""
    message = f"{provider}: {exc}"
    status = getattr(exc, "status_code", None)
    if status in TIMEOUT_STATUSES and isinstance(exc, pai.ModelAPIError):
        # A gateway that gave up waiting for the model says so with 504; that is a timeout, not an outage.
        return errors.ProviderTimeout(message, provider=provider, status_code=status)
    match exc:
        case errors.ProviderFailure():
            return exc
        case pai.ContentFilterError():
            return errors.ContentRefused(message, provider=provider, status_code=status)
        case pai.ModelRateLimitError():
            return errors.RateLimited(
                message, provider=provider, status_code=status, retry_after=exc.retry_after
            )
        case pai.ModelQuotaExceededError():
            return errors.QuotaExceeded(message, provider=provider, status_code=status)
        case pai.ModelTimeoutError() | pai.ModelRequestTimeout():
            return errors.ProviderTimeout(message, provider=provider, status_code=status)
        case pai.ModelConnectionError() | pai.ModelUnavailableError() | pai.ModelServerError():
            return errors.ProviderUnavailable(message, provider=provider, status_code=status)
        case pai.ModelAuthenticationError():
            return errors.Unauthorized(message, provider=provider, status_code=status)
        case pai.ModelRequestRejectedError():
            return errors.InvalidRequest(message, provider=provider, status_code=status)
        case pai.ModelHTTPError():
            return _by_status(message, provider=provider, status=exc.status_code, retry_after=exc.retry_after)
        case pai.ModelAPIError() | pai.UnexpectedModelBehavior():
            return errors.ProviderUnavailable(message, provider=provider, status_code=status)
    return None


def _by_status(
    message: str, *, provider: str, status: int, retry_after: float | None
) -> errors.ProviderFailure:
    if status == 429:
        return errors.RateLimited(message, provider=provider, status_code=status, retry_after=retry_after)
    if status in (401, 403):
        return errors.Unauthorized(message, provider=provider, status_code=status)
    if status in TIMEOUT_STATUSES:
        return errors.ProviderTimeout(message, provider=provider, status_code=status)
    if status >= 500:
        return errors.ProviderUnavailable(message, provider=provider, status_code=status)
    return errors.InvalidRequest(message, provider=provider, status_code=status)


RejectedKey = Callable[[ModelId], Awaitable[None]]
"""Told when a provider rejects the key (so a user's stored key can be marked invalid)."""


class TranslatedErrors(StreamLayer, WrapperModel):
    """Innermost wrapper of a cloud model: our error tree out, the network switch checked first."""

    def __init__(
        self,
        wrapped: Model,
        *,
        model_id: ModelId,
        offline_transport: bool = False,
        on_rejected_key: RejectedKey | None = None,
    ) -> None:
        super().__init__(wrapped)
        self.thinktank_id = model_id
        self._offline_transport = offline_transport
        self._on_rejected_key = on_rejected_key

    async def _raise(self, exc: Exception) -> NoReturn:
        translated = translate_error(exc, provider=self.thinktank_id.provider) or exc
        if isinstance(translated, errors.Unauthorized) and self._on_rejected_key is not None:
            await self._on_rejected_key(self.thinktank_id)
        if translated is exc:
            raise exc
        raise translated from exc

    def _check(self) -> None:
        if not self._offline_transport:
            check_network_allowed(str(self.thinktank_id))

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self._check()
        try:
            response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        except Exception as exc:
            await self._raise(exc)
        self._refuse_filtered(response.finish_reason)
        if not (response.usage.input_tokens or response.usage.output_tokens):
            text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            response.usage = estimate_usage(self.thinktank_id, messages, text)
            merge_metadata(response, {"usage_estimated": True})
        return response

    def _refuse_filtered(self, finish_reason: str | None) -> None:
        # Providers report a safety refusal as an ordinary, empty answer with this finish reason.
        if finish_reason == "content_filter":
            raise errors.ContentRefused(
                f"{self.thinktank_id.provider}: the provider's content filter refused to answer",
                provider=self.thinktank_id.provider,
            )

    def _checked(self, stream: StreamedResponse, estimate: _Estimate) -> dict[str, Any]:
        self._refuse_filtered(stream.finish_reason)
        return {"usage_estimated": True} if estimate.used else {}

    @asynccontextmanager
    async def open_stream(
        self,
        messages: Sequence[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> AsyncGenerator[StreamedResponse]:
        self._check()
        try:
            opening = open_stream(self.wrapped, messages, model_settings, model_request_parameters)
            async with opening as stream:
                estimate = _Estimate(self.thinktank_id, messages)
                yield annotated_stream(
                    stream, annotate=lambda done: self._checked(done, estimate), missing_usage=estimate
                )
        except Exception as exc:
            await self._raise(exc)


class _Estimate:
    """Counts a streamed reply's tokens when the server sent no usage (many OpenAI-compatible servers
    ignore `stream_options.include_usage`), and remembers that it had to."""

    def __init__(self, model_id: ModelId, messages: Sequence[ModelMessage]) -> None:
        self._model_id = model_id
        self._messages = messages
        self.used = False

    def __call__(self, reply: str) -> RequestUsage:
        self.used = True
        return estimate_usage(self._model_id, self._messages, reply)
