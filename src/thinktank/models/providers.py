"""Cloud adapters: pydantic-ai's own models over the official SDKs, one provider object per key.

The SDK clients are built with their own retries switched off, because retrying is the job of our
retry wrapper; an injected `http_client` (a fake transport in tests) replaces the network.
"""

from __future__ import annotations

import httpx2
from anthropic import AsyncAnthropic
from google.genai.types import HttpRetryOptions
from openai import AsyncOpenAI
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.profiles.openai import OpenAIModelProfile
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.google import GoogleProvider
from pydantic_ai.providers.openai import OpenAIProvider

from thinktank.errors import ConfigurationError
from thinktank.models.ids import ModelId
from thinktank.models.keys import ProviderKeys
from thinktank.models.resilience.deadline import Deadlines

# A connection closed mid-reply can look like the end of a stream (an HTTP body that ends when the
# connection does); a streamed reply that never said why it stopped was cut short, not finished.
OPENAI_PROFILE = OpenAIModelProfile(openai_chat_streaming_requires_finish_reason=True)
# Servers that speak OpenAI's API but not its newer fields (llama.cpp, llama-cpp-python, Ollama, ...)
# ignore `max_completion_tokens`, so a reply limit sent that way is no limit at all.
COMPATIBLE_PROFILE = OpenAIModelProfile(
    openai_chat_streaming_requires_finish_reason=True, openai_chat_supports_max_completion_tokens=False
)


def build_cloud_model(
    model_id: ModelId,
    *,
    keys: ProviderKeys,
    http_client: httpx2.AsyncClient | None,
    deadlines: Deadlines | None = None,
) -> Model:
    reason = keys.why_not_configured(model_id)
    if reason is not None:
        raise ConfigurationError(f"{model_id}: {reason}")
    client = http_client or httpx2.AsyncClient(timeout=(deadlines or Deadlines()).http_timeout())
    match model_id.provider:
        case "anthropic":
            anthropic = AsyncAnthropic(api_key=keys.anthropic, http_client=client, max_retries=0)
            return AnthropicModel(model_id.name, provider=AnthropicProvider(anthropic_client=anthropic))
        case "openai":
            openai = AsyncOpenAI(api_key=keys.openai, http_client=client, max_retries=0)
            return OpenAIChatModel(
                model_id.name, provider=OpenAIProvider(openai_client=openai), profile=OPENAI_PROFILE
            )
        case "openai-compatible":
            compatible = AsyncOpenAI(
                api_key=keys.openai_compatible_key or "not-needed",
                base_url=keys.openai_compatible_base_url,
                http_client=client,
                max_retries=0,
            )
            return OpenAIChatModel(
                model_id.name, provider=OpenAIProvider(openai_client=compatible), profile=COMPATIBLE_PROFILE
            )
        case "google":
            google = GoogleProvider(
                api_key=keys.google, http_client=client, retry_options=HttpRetryOptions(attempts=1)
            )
            return GoogleModel(model_id.name, provider=google)
    raise ConfigurationError(f"{model_id} is not a cloud model")
