"""How big a model is, as far as can be told without loading it: small models (under 1B
parameters) get a shorter prompt and tighter sampling (see `engine.prompts`).

The size comes from the model's name when it says ("qwen2.5:0.5b", "gemma-3-270m", "SmolLM2-135M");
a local GGUF file that does not say is judged by its size on disk (a 1B model is over ~600 MB even at
4 bits). The bundled model is SmolLM2-135M.
"""

from __future__ import annotations

import re
from pathlib import Path

from thinktank.models.ids import BUNDLED_LOCAL_MODEL, ModelId

SMALL_PARAMETERS = 1_000_000_000
_SMALL_FILE_BYTES = 600 * 1024 * 1024
_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)
_BUNDLED_PARAMETERS = 135_000_000


def parameter_count(model_id: ModelId) -> int | None:
    """Parameters the model's name states, or None when it states none."""
    if model_id.provider == "local" and model_id.name == BUNDLED_LOCAL_MODEL:
        return _BUNDLED_PARAMETERS
    name = Path(model_id.name).name if model_id.provider == "local" else model_id.name
    found = _SIZE.findall(name.replace("_", "-"))
    if not found:
        return None
    number, unit = found[-1]
    return int(float(number) * (1_000_000 if unit.lower() == "m" else 1_000_000_000))


def is_small(model_id: ModelId) -> bool:
    """Under 1B parameters; a model whose size is unknown counts as large (the full prompt is
    the safe default), except a local file small enough on disk."""
    if model_id.provider == "scripted":
        return False
    count = parameter_count(model_id)
    if count is not None:
        return count < SMALL_PARAMETERS
    if model_id.provider == "local":
        path = Path(model_id.name).expanduser()
        return path.is_file() and path.stat().st_size < _SMALL_FILE_BYTES
    return False
