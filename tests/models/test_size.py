from __future__ import annotations

from pathlib import Path

import pytest

from thinktank.models.ids import LOCAL_DEFAULT, SCRIPTED, parse_model_id
from thinktank.models.size import is_small, parameter_count


@pytest.mark.parametrize(
    ("model", "count"),
    [
        ("openai-compatible:qwen2.5:0.5b", 500_000_000),
        ("openai-compatible:llama3.2:1b", 1_000_000_000),
        ("local:/models/gemma-3-270m-q4_k_m.gguf", 270_000_000),
        ("openai-compatible:llama3.1:8b-instruct-q4_K_M", 8_000_000_000),
        ("openai:gpt-4.1", None),
    ],
)
def test_sizes_come_from_names(model: str, count: int | None) -> None:
    assert parameter_count(parse_model_id(model)) == count


def test_small_models_are_under_one_billion(tmp_path: Path) -> None:
    assert is_small(LOCAL_DEFAULT)
    assert is_small(parse_model_id("openai-compatible:qwen2.5:0.5b"))
    assert not is_small(parse_model_id("openai-compatible:llama3.2:1b"))
    assert not is_small(parse_model_id("anthropic:claude-sonnet-4-5"))
    assert not is_small(SCRIPTED)
    unnamed = tmp_path / "model.gguf"
    unnamed.write_bytes(b"\0" * 1024)
    assert is_small(parse_model_id(f"local:{unnamed}"))
