"""What a persona sees: its system prompt, the mode's instructions, the roster, the topic, the
summary of older turns, and the recent transcript as named turns (others as user turns, its own as
assistant turns)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)

from thinktank.domain import DiscussionMode, Message, Persona
from thinktank.domain.vocabulary import SEAT_OPENING

MODE_INSTRUCTIONS: dict[DiscussionMode, str] = {
    "ideation": (
        "Ideation: generate and build on ideas. Offer new options, combine others' ideas, and defer harsh "
        "judgement; quantity and variety matter more than polish at this stage."
    ),
    "refinement": (
        "Refinement: take the proposal on the table and make it better. Point out concrete weaknesses and "
        "propose specific fixes; keep what works."
    ),
    "planning": (
        "Planning: turn goals into a plan. Be concrete about steps, order, owners, dependencies, risks and "
        "what done looks like."
    ),
    "debate": (
        "Debate: take a clear position from your own perspective and defend it with reasons and evidence. "
        "Engage directly with the strongest opposing argument; concede points that are right."
    ),
    "review": (
        "Review: examine what is presented critically and fairly. Identify risks, gaps and strengths, rank "
        "them by importance, and say what must change before you would approve it."
    ),
}

USER_NAME = "You"
USER_ROLE = "convener"


def speaker_label(message: Message) -> str:
    if message.kind == "user":
        return f"{message.speaker_name} (the user who convened the panel)"
    return f"{message.speaker_name} ({message.speaker_role})"


def system_prompt(
    persona: Persona,
    *,
    mode: DiscussionMode,
    topic: str,
    others: Sequence[Persona],
    summary: str | None,
) -> str:
    roster = "\n".join(f"- {p.name}, {p.role}" for p in others) or "- nobody else yet"
    parts = [
        persona.system_prompt,
        "",
        "## This discussion",
        f"Mode: {MODE_INSTRUCTIONS[mode]}",
        f"Topic: {topic}",
        "Also on the panel:",
        roster,
        "- the user who convened the panel, who may interject at any time",
    ]
    if summary:
        parts += ["", "## Earlier in the discussion (summary)", summary]
    parts += [
        "",
        "## How to reply",
        f"{SEAT_OPENING} {persona.name} ({persona.role}). Reply in 2 to 5 sentences, under 120 words,"
        " in your own voice, responding to the latest points."
        " Do not write lines for anyone else and do not start with your name.",
    ]
    return "\n".join(parts)


def build_messages(
    persona: Persona,
    *,
    system: str,
    window: Sequence[Message],
) -> list[ModelMessage]:
    """The transcript window as alternating turns; others' consecutive messages share one user turn."""
    messages: list[ModelMessage] = []
    pending: list[str] = []
    first = True

    def flush() -> None:
        nonlocal first
        parts: list[SystemPromptPart | UserPromptPart] = [SystemPromptPart(system)] if first else []
        parts.append(UserPromptPart("\n\n".join(pending) if pending else "(The discussion continues.)"))
        messages.append(ModelRequest(parts=parts))
        pending.clear()
        first = False

    for message in window:
        if message.kind == "persona" and message.speaker_id == persona.id:
            flush()
            messages.append(ModelResponse(parts=[TextPart(message.text)]))
        else:
            pending.append(f"{speaker_label(message)}: {message.text}")
    if pending or first or isinstance(messages[-1], ModelResponse):
        if not pending:
            pending.append(f"{persona.name}, please continue.")
        flush()
    return messages
