"""Map pydantic-ai's provider exceptions into our error tree (see `thinktank.errors`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, NoReturn

from pydantic_ai import exceptions as pai
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from thinktank import errors
from thinktank.models.guard import check_network_allowed
from thinktank.models.ids import ModelId
from thinktank.models.streaming import annotated_stream


def translate_error(exc: Exception, *, provider: str) -> errors.ProviderFailure | None:
    """Our error for a provider exception, or None when `exc` is not a provider failure."""
    message = f"{provider}: {exc}"
    status = getattr(exc, "status_code", None)
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
    if status in (408, 504):
        return errors.ProviderTimeout(message, provider=provider, status_code=status)
    if status >= 500:
        return errors.ProviderUnavailable(message, provider=provider, status_code=status)
    return errors.InvalidRequest(message, provider=provider, status_code=status)


RejectedKey = Callable[[ModelId], Awaitable[None]]
"""Told when a provider rejects the key (so a user's stored key can be marked invalid)."""


class TranslatedErrors(WrapperModel):
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
        return response

    def _refuse_filtered(self, finish_reason: str | None) -> None:
        # Providers report a safety refusal as an ordinary, empty answer with this finish reason.
        if finish_reason == "content_filter":
            raise errors.ContentRefused(
                f"{self.thinktank_id.provider}: the provider's content filter refused to answer",
                provider=self.thinktank_id.provider,
            )

    def _checked(self, stream: StreamedResponse) -> dict[str, Any]:
        self._refuse_filtered(stream.finish_reason)
        return {}

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        self._check()
        try:
            async with self.wrapped.request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                yield annotated_stream(stream, annotate=self._checked)
        except Exception as exc:
            await self._raise(exc)
