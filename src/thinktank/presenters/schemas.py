"""Request and response bodies. Table rows are never returned directly."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktank.domain import DiscussionMode, Persona

MAX_TOPIC = 2000
MAX_INTERJECTION = 4000
MAX_SYSTEM_PROMPT = 8000


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a readable message, and details where they help."""

    code: str = Field(description="Stable, machine-readable: not_found, validation_failed, busy, ...")
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every API error."""

    """Every error the API answers, whatever its status."""

    error: ErrorDetail


_ERRORS = {
    400: "The request cannot be done as asked (the message says why)",
    401: "Not signed in (multi-user mode)",
    402: "The plan's token or credit limit is reached",
    403: "Refused: a browser change without its CSRF token, or from another site",
    404: "No such resource (or not yours)",
    405: "Method not allowed (see the Allow header)",
    409: "Busy (a turn is in flight) or the conversation has ended",
    413: "The request body is over 256 KB",
    421: "Local mode answers only on its loopback address or public URL",
    422: "The input is invalid (the details name each field)",
    429: "Rate limited (see Retry-After)",
    502: "A model provider failed",
    503: "A service this needs (a provider, Redis, a worker) cannot be reached; try again shortly",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _ERRORS.items()
}
"""Documented on every API operation: the statuses any of them may answer, in one body shape."""


class PersonaPublic(BaseModel):
    """A persona as listed: the library's or the caller's own."""

    source: Literal["library", "mine"]
    persona: Persona


class PersonaIn(Persona):
    """A persona to save as the caller's own."""

    """A persona sent by a client; the same rules as the library's, with size limits."""

    system_prompt: str = Field(max_length=MAX_SYSTEM_PROMPT)


class TemplatePublic(BaseModel):
    """A conversation template with its panel and estimated cost."""

    id: str
    category: str
    industry: str
    name: str
    description: str
    personas: list[str]
    mode: DiscussionMode
    estimated_messages: int
    initial_prompt: str
    suggested_flow: list[str]
    estimated_cost_usd: str | None = Field(
        description="Billed USD on the personas' own models, from current prices"
    )
    running_cost_usd: str | None = Field(
        None, description="Billed USD on the models that will actually answer here (free when local)"
    )
    runs_on: list[str] = Field(
        default_factory=list, description="The model each persona will actually use here, in panel order"
    )


class ConversationCreate(BaseModel):
    """A new conversation: a template, or a topic and a panel."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"template_id": "startup-product-planning", "model": "scripted", "max_messages": 6},
                {
                    "topic": "Should we adopt passkeys?",
                    "persona_ids": ["security-expert", "end-user"],
                    "mode": "debate",
                },
            ]
        },
    )
    template_id: str | None = None
    topic: str | None = Field(None, min_length=1, max_length=MAX_TOPIC)
    title: str | None = Field(None, max_length=200)
    persona_ids: list[str] = Field(default_factory=list, max_length=12)
    personas: list[PersonaIn] = Field(
        default_factory=list, max_length=12, description="Inline custom personas"
    )
    mode: DiscussionMode | None = None
    scorer: Literal["heuristic", "llm"] = "heuristic"
    scorer_model: str | None = None
    summary_model: str | None = None
    model: str | None = Field(None, description="Run every persona on this model id")
    seed: int | None = Field(None, ge=0, lt=2**31)
    speed: int = Field(5, ge=1, le=10)
    turn_delay: float | None = Field(
        None, ge=0, le=60, description="Seconds between auto turns; overrides speed"
    )
    max_messages: int | None = Field(None, ge=1, le=1000)
    max_cost: Decimal | None = Field(None, gt=0, le=10000)


class MemberPublic(BaseModel):
    """A panel member: the persona, the model it actually uses, its messages and cost."""

    persona_id: str
    name: str
    role: str
    avatar: dict[str, str]
    models: list[str]
    substituted: bool
    message_count: int
    cost: dict[str, Any]


class ConversationPublic(BaseModel):
    """A conversation's state: settings, panel, status and costs."""

    id: str
    title: str
    topic: str
    template_id: str | None
    mode: str
    scorer: str
    seed: int
    run_mode: str
    speed: int
    status: str
    stop_reason: str
    max_messages: int | None
    max_cost: str | None
    created_at: datetime
    updated_at: datetime
    forked_from: str | None = None
    forked_at: int | None = None
    members: list[MemberPublic] | None = None
    totals: dict[str, Any] | None = None


class ConversationPage(BaseModel):
    """A page of conversations and the cursor of the next."""

    items: list[ConversationPublic]
    next_cursor: str | None


class MessagePublic(BaseModel):
    """One message with its speaker, model, tokens, cost and the choice that gave the turn."""

    index: int
    kind: str
    speaker_id: str
    speaker_name: str
    speaker_role: str
    text: str
    created_at: datetime
    model_id: str | None
    usage: dict[str, int]
    cost: dict[str, str | None]
    latency_s: float | None
    time_to_first_token_s: float | None
    decision: dict[str, Any] | None
    incomplete: bool
    error: str | None
    usage_estimated: bool = False


class MessagePage(BaseModel):
    """A page of messages, oldest first, with the indexes around it."""

    items: list[MessagePublic]
    before: int | None = Field(description="Cursor for older messages (pass as ?before=)")
    after: int | None = Field(description="Cursor for newer messages (pass as ?after=)")


class Interjection(BaseModel):
    """What the user says into the discussion."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_INTERJECTION)


class TurnRequest(BaseModel):
    """Take one turn, optionally naming who speaks."""

    model_config = ConfigDict(extra="forbid")
    speaker: str | None = Field(None, description="A member's persona id: they speak next, this once")


class TurnResult(BaseModel):
    """The message a turn produced (none when the turn was refused or stopped)."""

    message: MessagePublic | None
    status: str
    stop_reason: str


class MemberAdd(BaseModel):
    """A persona to add to the panel."""

    model_config = ConfigDict(extra="forbid")
    persona_id: str | None = None
    persona: PersonaIn | None = None


class RunModeChange(BaseModel):
    """Auto (the panel runs by itself) or manual (one turn at a time)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["auto", "manual"]


class ContinueRequest(BaseModel):
    """Reopen an ended or paused discussion for this many more messages."""

    model_config = ConfigDict(extra="forbid")
    messages: int = Field(ge=1, le=1000, description="How many more persona messages it may take")
    mode: Literal["auto", "manual"] = Field("manual", description="auto: the panel carries on by itself")


class SpeedChange(BaseModel):
    """How fast auto mode goes, 1 (slow) to 10."""

    model_config = ConfigDict(extra="forbid")
    speed: int = Field(ge=1, le=10)


class ModelAvailability(BaseModel):
    """A model and whether it can be called here now."""

    model_id: str
    available: bool
    reason: str | None
    priced: bool
