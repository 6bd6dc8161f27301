"""HTML form fields in, validated API bodies out, with every problem keyed by its field's name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import ImmutableMultiDict

from thinktank.api.schemas import ConversationCreate, PersonaIn
from thinktank.domain.library import ConversationTemplate
from thinktank.errors import InvalidModelIdError, UnknownIdError, UserError

M = TypeVar("M", bound=BaseModel)
Fields = ImmutableMultiDict[str, Any]
FieldErrors = dict[str, str]
"""Field name (dotted, as in the form) -> message; "" holds errors that belong to no one field."""


def _words(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _text(form: Fields, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def field_errors(error: ValidationError) -> FieldErrors:
    errors: FieldErrors = {}
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"] if not isinstance(part, int))
        message = str(problem["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def persona_fields(form: Fields) -> dict[str, Any]:
    """The builder's fields as the nested shape of a persona; lists are comma- or line-separated."""
    age = _text(form, "demographics.age")
    return {
        "id": _text(form, "id"),
        "category": _text(form, "category"),
        "name": _text(form, "name"),
        "role": _text(form, "role"),
        "description": _text(form, "description"),
        "model": _text(form, "model"),
        "fallbacks": [f for f in form.getlist("fallbacks") if isinstance(f, str) and f],
        "demographics": {
            "age": int(age) if age.isdigit() else age,
            "education": _text(form, "demographics.education"),
            "location": _text(form, "demographics.location"),
        },
        "personality": {
            "traits": _words(_text(form, "personality.traits")),
            "communication": _text(form, "personality.communication"),
            "decision_making": _text(form, "personality.decision_making"),
        },
        "expertise": _words(_text(form, "expertise")),
        "experience_level": _text(form, "experience_level"),
        "attitude": _text(form, "attitude"),
        "system_prompt": _text(form, "system_prompt"),
        "avatar": {"emoji": _text(form, "avatar.emoji"), "color": _text(form, "avatar.color")},
    }


def parse_persona(form: Fields) -> tuple[PersonaIn | None, FieldErrors]:
    return _validated(PersonaIn, persona_fields(form))


PANEL_SIZE = (2, 12)
"""What the New form lets a panel be; the API alone also accepts a single persona."""
UNKNOWN_ID_FIELDS = {"persona": "persona_ids", "template": "template_id", "model": "model"}


def conversation_fields(form: Fields, templates: Mapping[str, ConversationTemplate]) -> dict[str, Any]:
    """The New form as an API body. With a template, the ticked personas are the whole panel (the
    form starts with the template's ticked): the template as designed when they are its panel,
    otherwise its topic, mode and length with the panel as ticked."""
    fields: dict[str, Any] = {
        "persona_ids": [p for p in form.getlist("persona_ids") if isinstance(p, str) and p],
        "scorer": _text(form, "scorer") or "heuristic",
        "speed": _text(form, "speed") or "5",
    }
    for name in ("template_id", "topic", "title", "mode", "model", "max_messages", "max_cost", "seed"):
        if value := _text(form, name):
            fields[name] = value
    template = templates.get(fields.get("template_id", ""))
    if template is not None:
        if set(fields["persona_ids"]) == set(template.personas):
            fields["persona_ids"] = []
        elif fields["persona_ids"]:
            del fields["template_id"]
            fields.setdefault("topic", template.initial_prompt)
            fields.setdefault("mode", template.mode)
            fields.setdefault("title", template.name)
            fields.setdefault("max_messages", str(template.estimated_messages))
    return fields


def panel_problem(fields: dict[str, Any]) -> str | None:
    """The form's own rule on the panel's size (a template as designed is always fine)."""
    low, high = PANEL_SIZE
    count = len(fields["persona_ids"])
    if "template_id" in fields and count == 0:
        return None
    if count < low:
        return f"pick at least {low} personas: a panel of {count} is not a discussion"
    if count > high:
        return f"pick at most {high} personas (you picked {count})"
    return None


def parse_conversation(
    form: Fields, templates: Mapping[str, ConversationTemplate]
) -> tuple[ConversationCreate | None, FieldErrors]:
    fields = conversation_fields(form, templates)
    body, errors = _validated(ConversationCreate, fields)
    if problem := panel_problem(fields):
        errors.setdefault("persona_ids", problem)
        body = None
    return body, errors


def user_error_field(error: UserError) -> str:
    """Which field of the New form a refusal from the service is about ("" when none is)."""
    if isinstance(error, UnknownIdError):
        return UNKNOWN_ID_FIELDS.get(error.kind, "")
    if isinstance(error, InvalidModelIdError):
        return "model"
    text = str(error).lower()
    if "topic" in text:
        return "topic"
    return "persona_ids" if "persona" in text or "panel" in text else ""


def _validated(model: type[M], fields: dict[str, Any]) -> tuple[M | None, FieldErrors]:
    try:
        return model.model_validate(fields), {}
    except ValidationError as error:
        return None, field_errors(error)
