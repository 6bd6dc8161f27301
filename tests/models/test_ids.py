from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinktank.errors import InvalidModelIdError
from thinktank.models.ids import PROVIDERS, ModelId, parse_model_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anthropic:claude-3-7-sonnet-20250219", ModelId("anthropic", "claude-3-7-sonnet-20250219")),
        ("openai:gpt-4.1-mini", ModelId("openai", "gpt-4.1-mini")),
        ("google:gemini-2.5-flash", ModelId("google", "gemini-2.5-flash")),
        ("gemini:gemini-2.5-flash", ModelId("google", "gemini-2.5-flash")),
        ("openai-compatible:llama3.2:3b", ModelId("openai-compatible", "llama3.2:3b")),
        ("local:smollm2", ModelId("local", "smollm2")),
        ("local:/models/any.gguf", ModelId("local", "/models/any.gguf")),
        ("scripted", ModelId("scripted", "default")),
        ("scripted:fast", ModelId("scripted", "fast")),
        ("  OpenAI:gpt-4.1  ", ModelId("openai", "gpt-4.1")),
    ],
)
def test_parses_every_documented_form(text: str, expected: ModelId) -> None:
    assert parse_model_id(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("gpt-4", "no provider"),
        ("azure:gpt-4", "unknown provider"),
        ("openai:", "names no model"),
    ],
)
def test_refuses_bad_ids_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidModelIdError, match=reason):
        parse_model_id(text)


@given(
    st.sampled_from([p for p in PROVIDERS if p != "scripted"]),
    st.from_regex(r"[a-z0-9][a-z0-9.:/_-]{0,30}", fullmatch=True),
)
def test_str_round_trips(provider: str, name: str) -> None:
    model_id = parse_model_id(f"{provider}:{name}")
    assert parse_model_id(str(model_id)) == model_id
