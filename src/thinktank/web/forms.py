"""HTML form fields in, validated API bodies out, with every problem keyed by its field's name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import ImmutableMultiDict

from thinktank.domain.library import ConversationTemplate, slug_of
from thinktank.errors import InvalidModelIdError, UnknownIdError, UserError
from thinktank.presenters.schemas import ConversationCreate, PersonaIn

M = TypeVar("M", bound=BaseModel)
Fields = ImmutableMultiDict[str, Any]
# A form sent back with messages next to its fields is a normal answer for htmx to show, not a
# failed request: 200 keeps the browser console clean (it logs every 4xx as an error).
FORM_ERRORS = 200
FieldErrors = dict[str, str]
"""Field name (dotted, as in the form) -> message; "" holds errors that belong to no one field."""


def _words(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _text(form: Fields, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _plain(problem: Mapping[str, Any]) -> str:
    """pydantic's message in the words of a form ("List should have at least 1 item after
    validation" is how a library talks, not a page)."""
    kind, context = problem["type"], problem.get("ctx") or {}
    if kind in ("missing", "string_too_short") and context.get("min_length", 1) <= 1:
        return "required"
    if kind == "too_short":
        count = context.get("min_length", 1)
        return "add at least one" if count == 1 else f"add at least {count}"
    if kind == "too_long":
        return f"at most {context.get('max_length')}"
    if kind == "string_too_long":
        return f"at most {context.get('max_length')} characters"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("decimal_parsing", "float_parsing", "decimal_type"):
        return "a number"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"greater_than_equal": "at least", "greater_than": "more than"}
        words |= {"less_than_equal": "at most", "less_than": "less than"}
        bound = next(v for k, v in context.items() if k in ("ge", "gt", "le", "lt"))
        return f"{words[kind]} {bound}"
    if kind == "literal_error":
        return "choose one of " + str(context.get("expected", "the options")).replace("'", "")
    if kind == "extra_forbidden":
        return "not a field this form has"
    return str(problem["msg"]).removeprefix("Value error, ")


def field_errors(error: ValidationError) -> FieldErrors:
    errors: FieldErrors = {}
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"] if not isinstance(part, int))
        errors.setdefault(name, _plain(problem))
    return errors


def _optional(group: dict[str, Any]) -> dict[str, Any] | None:
    """An optional group of fields: left out when all of its fields are blank."""
    return group if any(group.values()) else None


def persona_fields(form: Fields) -> dict[str, Any]:
    """The builder's fields as the nested shape of a persona; lists are comma- or line-separated.
    Only name, role and system prompt are required: a blank optional field is left out, so the
    persona's default applies (the id is made from the name)."""
    age = _text(form, "demographics.age")
    fields: dict[str, Any] = {
        "id": _text(form, "id") or slug_of(_text(form, "name")),
        "category": _text(form, "category"),
        "name": _text(form, "name"),
        "role": _text(form, "role"),
        "description": _text(form, "description"),
        "model": _text(form, "model"),
        "fallbacks": [f for f in form.getlist("fallbacks") if isinstance(f, str) and f],
        "demographics": _optional(
            {
                "age": int(age) if age.isdigit() else age,
                "education": _text(form, "demographics.education"),
                "location": _text(form, "demographics.location"),
            }
        ),
        "personality": _optional(
            {
                "traits": _words(_text(form, "personality.traits")),
                "communication": _text(form, "personality.communication"),
                "decision_making": _text(form, "personality.decision_making"),
            }
        ),
        "expertise": _words(_text(form, "expertise")),
        "experience_level": _text(form, "experience_level"),
        "attitude": _text(form, "attitude"),
        "system_prompt": _text(form, "system_prompt"),
        # The colour input always sends a colour: the avatar counts as set once it has an emoji.
        "avatar": {"emoji": _text(form, "avatar.emoji"), "color": _text(form, "avatar.color")}
        if _text(form, "avatar.emoji")
        else None,
    }
    required = ("id", "name", "role", "system_prompt")
    return {k: v for k, v in fields.items() if k in required or v not in ("", None, [])}


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
    if count == 0:
        return f"choose personas for the panel: at least {low}, up to {high}"
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
