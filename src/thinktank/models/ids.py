"""Model ids as the model layer names them; the parser itself lives in `domain.ids` (the bottom layer),
so the domain and pricing can name models without importing the model layer."""

from thinktank.domain.ids import (
    BUNDLED_LOCAL_MODEL,
    CLOUD_PROVIDERS,
    DEFAULT_SCRIPTED_VARIANT,
    LOCAL_DEFAULT,
    PROVIDERS,
    SCRIPTED,
    ModelId,
    ProviderName,
    parse_model_id,
)

__all__ = [
    "BUNDLED_LOCAL_MODEL",
    "CLOUD_PROVIDERS",
    "DEFAULT_SCRIPTED_VARIANT",
    "LOCAL_DEFAULT",
    "PROVIDERS",
    "SCRIPTED",
    "ModelId",
    "ProviderName",
    "parse_model_id",
]
