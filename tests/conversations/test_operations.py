"""The typed table of operations: what one process sends another arrives as the same operation,
and a service cannot start with an operation nobody handles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from thinktank.conversations.operations import (
    OPERATIONS,
    AddMember,
    Handlers,
    Interject,
    MemoOrWrite,
    Operation,
    SetRunMode,
    TakeTurn,
    Target,
    WriteMemo,
)
from thinktank.jobs import wire
from thinktank.library.loader import load_library
from thinktank.models.ids import parse_model_id


def over_the_wire(operation: Operation[Any]) -> Operation[Any]:
    """As `Ownership.run` sends it and `Ownership.answer` rebuilds it, through JSON in between."""
    sent = json.loads(json.dumps(wire.encode(operation.arguments())))
    return Handlers.operation(operation.name, wire.decode(sent))


@pytest.mark.parametrize(
    "operation",
    [
        TakeTurn(speaker="skeptic", idempotency_key="k-1"),
        TakeTurn(),
        SetRunMode(mode="auto"),
        Interject(text="What about cost?"),
        AddMember(persona=next(iter(load_library().personas.values()))),
        WriteMemo(chair=parse_model_id("scripted:chair")),
        WriteMemo(),
        MemoOrWrite(),
    ],
    ids=repr,
)
def test_an_operation_arrives_as_it_was_sent(operation: Operation[Any]) -> None:
    assert over_the_wire(operation) == operation


def test_every_operation_has_a_unique_wire_name() -> None:
    assert all(kind.name == name for name, kind in OPERATIONS.items())
    assert len({kind.name for kind in OPERATIONS.values()}) == len(OPERATIONS)


async def test_handlers_run_the_one_registered_for_the_type_and_name_the_missing() -> None:
    handlers = Handlers()
    seen: list[tuple[Target, Interject]] = []

    async def interject(target: Target, op: Interject) -> None:
        seen.append((target, op))

    handlers.add(Interject, interject)
    with pytest.raises(RuntimeError, match="take_turn") as missing:
        handlers.check_complete()
    assert "interject" not in str(missing.value)
    target = Target("user", "conversation")
    await handlers.run(target, Interject(text="hello"))
    assert seen == [(target, Interject(text="hello"))]
