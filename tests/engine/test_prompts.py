from __future__ import annotations

from datetime import UTC, datetime

from pydantic_ai.messages import (
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)

from tests.engine.helpers import library
from thinktank.domain import Message, MessageKind
from thinktank.engine.prompts import MODE_INSTRUCTIONS, build_messages, system_prompt


def text_of(part: ModelRequestPart | ModelResponsePart) -> str:
    """The text of a prompt's or a reply's part (every part these prompts are made of has text)."""
    assert isinstance(part, UserPromptPart | TextPart), part
    assert isinstance(part.content, str), part
    return part.content


def msg(
    index: int, speaker_id: str, name: str, role: str, text: str, kind: MessageKind = "persona"
) -> Message:
    return Message(index, kind, speaker_id, name, role, text, datetime.now(UTC))


def test_system_prompt_carries_persona_mode_roster_topic_and_summary() -> None:
    alex, diana = library().persona("senior-engineer"), library().persona("security-expert")
    text = system_prompt(
        alex, mode="debate", topic="Passkeys or passwords?", others=[diana], summary="Diana wants MFA."
    )
    assert text.startswith(alex.system_prompt)
    assert MODE_INSTRUCTIONS["debate"] in text
    assert "Diana Patel, Security Architect" in text
    assert "Topic: Passkeys or passwords?" in text
    assert "Diana wants MFA." in text
    assert "Speak only as Alex Chen (Senior Software Engineer)" in text


def test_others_are_named_user_turns_and_own_messages_are_assistant_turns() -> None:
    alex = library().persona("senior-engineer")
    window = [
        msg(0, "user", "You", "convener", "Passkeys or passwords?", kind="user"),
        msg(1, "security-expert", "Diana Patel", "Security Architect", "Passkeys, clearly."),
        msg(2, "product-manager", "Michael Kim", "Product Manager", "What does it cost us?"),
        msg(3, "senior-engineer", "Alex Chen", "Senior Software Engineer", "Two sprints."),
        msg(4, "security-expert", "Diana Patel", "Security Architect", "Alex, what about recovery?"),
    ]
    messages = build_messages(alex, system="SYSTEM", window=window)
    assert [type(m) for m in messages] == [ModelRequest, ModelResponse, ModelRequest]
    first = messages[0].parts
    assert isinstance(first[0], SystemPromptPart)
    assert isinstance(first[1], UserPromptPart)
    assert "Diana Patel (Security Architect): Passkeys, clearly." in first[1].content
    assert "Michael Kim (Product Manager): What does it cost us?" in first[1].content
    assert "You (the user who convened the panel): Passkeys or passwords?" in first[1].content
    assert text_of(messages[1].parts[0]) == "Two sprints."
    assert "Alex, what about recovery?" in text_of(messages[2].parts[0])


def test_a_window_that_ends_with_the_persona_itself_still_ends_on_a_user_turn() -> None:
    alex = library().persona("senior-engineer")
    window = [
        msg(0, "user", "You", "convener", "Go", kind="user"),
        msg(1, "senior-engineer", "Alex Chen", "Senior Software Engineer", "First point."),
    ]
    messages = build_messages(alex, system="SYSTEM", window=window)
    assert isinstance(messages[-1], ModelRequest)
    assert "please continue" in text_of(messages[-1].parts[0])


def test_small_models_get_the_compact_prompt_name_and_role_first_and_a_closing_cue() -> None:
    from thinktank.engine.prompts import prompt_style_for, reply_settings
    from thinktank.models.ids import LOCAL_DEFAULT, parse_model_id

    assert prompt_style_for(LOCAL_DEFAULT) == "compact"
    assert prompt_style_for(parse_model_id("openai:gpt-4.1")) == "full"
    alex, diana, michael = (
        library().persona(p) for p in ("senior-engineer", "security-expert", "product-manager")
    )
    full = system_prompt(alex, mode="debate", topic="Passkeys?", others=[diana, michael], summary=None)
    compact = system_prompt(
        alex, mode="debate", topic="Passkeys?", others=[diana, michael], summary=None, style="compact"
    )
    assert compact.startswith("You are Alex Chen, Senior Software Engineer.")
    assert "Topic: Passkeys?" in compact
    assert "Diana Patel (Security Architect)" in compact
    assert len(compact) < len(full) / 2
    window = [msg(0, "security-expert", "Diana Patel", "Security Architect", "Passkeys, clearly.")]
    last = build_messages(alex, system=compact, window=window, style="compact")[-1]
    assert isinstance(last, ModelRequest)
    assert text_of(last.parts[-1]).endswith(
        "Now Alex Chen (Senior Software Engineer) replies in 2 or 3 sentences:"
    )
    settings = reply_settings(alex, others=[diana, michael], style="compact", max_tokens=300, temperature=0.8)
    assert settings["max_tokens"] <= 120
    assert "\nDiana Patel" in settings["stop_sequences"]
    assert len(settings["stop_sequences"]) <= 4
    assert reply_settings(alex, others=[diana], style="full", max_tokens=300, temperature=0.8) == {
        "max_tokens": 300,
        "temperature": 0.8,
    }
