"""HTML form fields in, validated API bodies out, with every problem keyed by its field's name."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import ImmutableMultiDict

from thinktank.api.schemas import ConversationCreate, PersonaIn

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


def conversation_fields(form: Fields) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "persona_ids": [p for p in form.getlist("persona_ids") if isinstance(p, str) and p],
        "scorer": _text(form, "scorer") or "heuristic",
        "speed": _text(form, "speed") or "5",
    }
    for name in ("template_id", "topic", "title", "mode", "model", "max_messages", "max_cost", "seed"):
        if value := _text(form, name):
            fields[name] = value
    return fields


def parse_conversation(form: Fields) -> tuple[ConversationCreate | None, FieldErrors]:
    return _validated(ConversationCreate, conversation_fields(form))


def _validated(model: type[M], fields: dict[str, Any]) -> tuple[M | None, FieldErrors]:
    try:
        return model.model_validate(fields), {}
    except ValidationError as error:
        return None, field_errors(error)
