"""The one place that parses `provider:model` ids.

anthropic:claude-3-7-sonnet-20250219
openai:gpt-4.1-mini
google:gemini-2.5-flash        (`gemini:` is accepted as an alias)
openai-compatible:llama3.2     (against THINKTANK_OPENAI_COMPATIBLE_BASE_URL)
local:smollm2                  (the bundled model) or local:/path/to/any.gguf
scripted                       (deterministic, offline; `scripted:NAME` names a variant)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, get_args

from thinktank.errors import InvalidModelIdError

ProviderName = Literal["anthropic", "openai", "google", "openai-compatible", "local", "scripted"]
PROVIDERS: tuple[ProviderName, ...] = get_args(ProviderName)
CLOUD_PROVIDERS: tuple[ProviderName, ...] = ("anthropic", "openai", "google", "openai-compatible")

_ALIASES: dict[str, ProviderName] = {"gemini": "google", "google-gla": "google"}
BUNDLED_LOCAL_MODEL = "smollm2"
DEFAULT_SCRIPTED_VARIANT = "default"


@dataclass(frozen=True, slots=True)
class ModelId:
    """A parsed `provider:model` id; `str()` gives the canonical spelling back."""

    provider: ProviderName
    name: str

    def __str__(self) -> str:
        if self.provider == "scripted" and self.name == DEFAULT_SCRIPTED_VARIANT:
            return "scripted"
        return f"{self.provider}:{self.name}"

    @property
    def is_free(self) -> bool:
        """Runs on this machine, so no provider bills for it."""
        return self.provider in ("local", "scripted")


LOCAL_DEFAULT = ModelId("local", BUNDLED_LOCAL_MODEL)
SCRIPTED = ModelId("scripted", DEFAULT_SCRIPTED_VARIANT)


@functools.lru_cache(maxsize=1024)
def parse_model_id(text: str) -> ModelId:
    """Parse a model id; raise InvalidModelIdError with a readable reason.

    Cached (a `ModelId` is immutable; a refusal is not cached): every reply's model id is read
    back from its response, in every conversation."""
    raw = text.strip()
    if not raw:
        raise InvalidModelIdError("empty model id; expected 'provider:model', e.g. 'openai:gpt-4.1-mini'")
    provider_part, sep, name = raw.partition(":")
    provider_key = provider_part.strip().lower()
    provider = _ALIASES.get(provider_key, provider_key)
    if provider == "scripted":
        variant = name.strip() or DEFAULT_SCRIPTED_VARIANT
        return ModelId("scripted", variant)
    if provider not in PROVIDERS:
        known = ", ".join(p for p in PROVIDERS if p != "scripted") + ", scripted"
        if not sep:
            raise InvalidModelIdError(
                f"model id {raw!r} has no provider; write 'provider:model' with provider one of: {known}"
            )
        raise InvalidModelIdError(f"unknown provider {provider_part!r} in {raw!r}; known providers: {known}")
    name = name.strip()
    if not name:
        raise InvalidModelIdError(f"model id {raw!r} names no model after {provider_part!r}:")
    return ModelId(provider, name)
