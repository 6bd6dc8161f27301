"""Provider credentials, read from the standard environment variables at the edge and passed in.

A user's own key (a later issue) is just another `ProviderKeys`; nothing here is global.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from thinktank.models.ids import ModelId, ProviderName

ENV_VARS: dict[ProviderName, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "google": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "openai-compatible": ("THINKTANK_OPENAI_COMPATIBLE_API_KEY",),
}
OPENAI_COMPATIBLE_BASE_URL_VAR = "THINKTANK_OPENAI_COMPATIBLE_BASE_URL"


@dataclass(frozen=True, slots=True)
class ProviderKeys:
    """The keys (and local server URL) a model factory may use, one per provider."""

    anthropic: str | None = None
    openai: str | None = None
    google: str | None = None
    openai_compatible_base_url: str | None = None
    openai_compatible_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProviderKeys:
        def first(provider: ProviderName) -> str | None:
            return next((env[v].strip() for v in ENV_VARS[provider] if env.get(v, "").strip()), None)

        return cls(
            anthropic=first("anthropic"),
            openai=first("openai"),
            google=first("google"),
            openai_compatible_base_url=env.get(OPENAI_COMPATIBLE_BASE_URL_VAR, "").strip() or None,
            openai_compatible_key=first("openai-compatible"),
        )

    def key_for(self, provider: ProviderName) -> str | None:
        return {
            "anthropic": self.anthropic,
            "openai": self.openai,
            "google": self.google,
            "openai-compatible": self.openai_compatible_key,
        }.get(provider)

    def is_configured(self, model_id: ModelId) -> bool:
        """Whether a request to this model could be sent at all (a key, or a server to talk to)."""
        if model_id.is_free:
            return True
        if model_id.provider == "openai-compatible":
            # Local servers (Ollama, llama.cpp, vLLM) usually need no key, only a URL.
            return self.openai_compatible_base_url is not None
        return self.key_for(model_id.provider) is not None

    def why_not_configured(self, model_id: ModelId) -> str | None:
        if self.is_configured(model_id):
            return None
        if model_id.provider == "openai-compatible":
            return f"set {OPENAI_COMPATIBLE_BASE_URL_VAR} to the server's URL"
        return "no API key: set " + " or ".join(ENV_VARS[model_id.provider])
