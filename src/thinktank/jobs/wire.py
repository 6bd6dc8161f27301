"""Arguments and results of forwarded requests, as JSON and back (personas, model ids, messages)."""

from __future__ import annotations

from typing import Any

from thinktank.domain import Message, Persona
from thinktank.models.ids import ModelId, parse_model_id


def encode(value: Any) -> Any:
    if isinstance(value, Persona):
        return {"__persona__": value.model_dump(mode="json")}
    if isinstance(value, ModelId):
        return {"__model__": str(value)}
    if isinstance(value, Message):
        return {"__message__": value.to_json()}
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__persona__" in value:
            return Persona.model_validate(value["__persona__"])
        if "__model__" in value:
            return parse_model_id(value["__model__"])
        if "__message__" in value:
            return Message.from_json(value["__message__"])
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value
