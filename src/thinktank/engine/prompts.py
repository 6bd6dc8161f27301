"""What a persona sees: its system prompt, the mode's instructions, the roster, the topic, the
summary of older turns, and the recent transcript as named turns (others as user turns, its own as
assistant turns).

Two styles. "full" is for capable models. "compact" is for models under 1B parameters
(`models.size.is_small`), measured with `benchmarks/local_quality.py`: such a model loses the thread
in a long system prompt, so it gets its name and role first, one or two sentences of character,
the topic, and a closing cue naming who speaks; its sampling is tighter too (`reply_settings`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.settings import ModelSettings

from thinktank.domain import DiscussionMode, Message, Persona
from thinktank.domain.vocabulary import SEAT_OPENING
from thinktank.models.ids import ModelId
from thinktank.models.size import is_small

PromptStyle = Literal["full", "compact"]
COMPACT_REPLY_TOKENS = 120
"""A small model's reply: two or three sentences fit; past that it wanders or repeats itself."""
_MAX_STOP_SEQUENCES = 4  # OpenAI-compatible servers accept at most four

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


def transcript_line(message: Message) -> str:
    """A message as others read it in a prompt or a summary's transcript: who said it, then what."""
    if message.kind == "user":
        return f"{message.speaker_name} (the user who convened the panel): {message.text}"
    return f"{message.speaker_name} ({message.speaker_role}): {message.text}"


def prompt_style_for(model_id: ModelId) -> PromptStyle:
    return "compact" if is_small(model_id) else "full"


def system_prompt(
    persona: Persona,
    *,
    mode: DiscussionMode,
    topic: str,
    others: Sequence[Persona],
    summary: str | None,
    style: PromptStyle = "full",
) -> str:
    if style == "compact":
        return _compact_system_prompt(persona, mode=mode, topic=topic, others=others, summary=summary)
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


def _character(persona: Persona, *, sentences: int = 2) -> str:
    """The first sentences of the persona's own prompt, minus the "You are <name>," opener that the
    compact prompt already states."""
    parts = re.split(r"(?<=[.!?])\s+", persona.system_prompt.strip())
    text = " ".join(parts[:sentences])
    return re.sub(rf"^You are {re.escape(persona.name)},?\s*", "", text).strip()


def _compact_system_prompt(
    persona: Persona,
    *,
    mode: DiscussionMode,
    topic: str,
    others: Sequence[Persona],
    summary: str | None,
) -> str:
    roster = ", ".join(f"{p.name} ({p.role})" for p in others) or "nobody else yet"
    character = _character(persona)
    lines = [
        f"You are {persona.name}, {persona.role}." + (f" You are {character}" if character else ""),
        f"Panel discussion. Topic: {topic}",
        f"Also on the panel: {roster}, and the user.",
        MODE_INSTRUCTIONS[mode].split(". ")[0].rstrip(".") + ".",
    ]
    if summary:
        lines.append(f"So far: {summary}")
    lines.append(
        f"Answer as {persona.name} only, in 2 or 3 short sentences of plain text about the topic."
        " No lists, no headings, no names before your words."
    )
    return "\n".join(lines)


def reply_settings(
    persona: Persona,
    *,
    others: Sequence[Persona],
    style: PromptStyle,
    max_tokens: int,
    temperature: float,
) -> ModelSettings:
    """Sampling for one reply. A small model also stops where it would start another speaker's
    line (the speaker guard would cut there anyway; stopping saves the tokens) and is kept short."""
    if style == "full":
        return {"max_tokens": max_tokens, "temperature": temperature}
    stops = [*[f"\n{p.name}" for p in others][: _MAX_STOP_SEQUENCES - 2], "\nUser:", "\nYou:"]
    return {
        "max_tokens": min(max_tokens, COMPACT_REPLY_TOKENS),
        "temperature": min(temperature, 0.7),
        "stop_sequences": stops,
    }


def build_messages(
    persona: Persona,
    *,
    system: str,
    window: Sequence[Message],
    style: PromptStyle = "full",
) -> list[ModelMessage]:
    """The transcript window as alternating turns; others' consecutive messages share one user turn.

    Two parts: the turns up to the persona's own last message in the window (`history_before`),
    which stay the same until it speaks again, and the closing user turn with everything said since.
    """
    said = last_own(persona, window)
    history = history_before(persona, system=system, window=window[: said + 1])
    return [
        *history,
        closing_request(persona, system=None if history else system, tail=window[said + 1 :], style=style),
    ]


def last_own(persona: Persona, window: Sequence[Message]) -> int:
    """The index in `window` of the persona's own last message, -1 when it has none there."""
    for i in range(len(window) - 1, -1, -1):
        message = window[i]
        if message.kind == "persona" and message.speaker_id == persona.id:
            return i
    return -1


def history_before(persona: Persona, *, system: str | None, window: Sequence[Message]) -> list[ModelMessage]:
    """`window`, which ends with the persona's own message (or is empty), as alternating turns: the
    system prompt in the first user turn (`None`: `window` continues turns built before)."""
    messages: list[ModelMessage] = []
    pending: list[str] = []
    for message in window:
        if message.kind == "persona" and message.speaker_id == persona.id:
            messages.append(
                _request(None if messages else system, pending or ["(The discussion continues.)"])
            )
            messages.append(ModelResponse(parts=[TextPart(message.text)]))
            pending = []
        else:
            pending.append(transcript_line(message))
    return messages


def closing_request(
    persona: Persona, *, system: str | None, tail: Sequence[Message], style: PromptStyle
) -> ModelRequest:
    """The last user turn: what others said since the persona last spoke (`tail`), and the system
    prompt when nothing comes before it."""
    lines = [transcript_line(message) for message in tail]
    if not lines:
        lines.append(f"{persona.name}, please continue.")
    if style == "compact":
        # A small model answers the last thing it read: end on who speaks and how.
        lines.append(f"Now {persona.name} ({persona.role}) replies in 2 or 3 sentences:")
    return _request(system, lines)


def _request(system: str | None, lines: list[str]) -> ModelRequest:
    parts: list[SystemPromptPart | UserPromptPart] = [] if system is None else [SystemPromptPart(system)]
    parts.append(UserPromptPart("\n\n".join(lines)))
    return ModelRequest(parts=parts)
