"""The operations that run where a conversation is held, as a typed table rather than method names.

An operation is a frozen dataclass: its fields are its arguments and `Operation[R]` names its
result. The process holding the conversation runs it with the handler registered for its type
(`Handlers`); any other process sends it to the holder by `name` (`jobs.commands.Request`, the
arguments through `jobs.wire`) and gets the result back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from thinktank.domain import Message, Persona
from thinktank.models.ids import ModelId

R = TypeVar("R")
RunMode = Literal["auto", "manual"]


@dataclass(frozen=True, slots=True)
class Target:
    """The conversation an operation acts on, and whose it is."""

    user_id: str
    conversation_id: str


@dataclass(frozen=True)
class Operation(Generic[R]):
    """One thing done to a held conversation, with a result of type `R`."""

    name: ClassVar[str]

    def arguments(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class TakeTurn(Operation[Message | None]):
    """The next turn, by `speaker` or the orchestrator's pick; a repeated Idempotency-Key gets the
    turn taken the first time."""

    name: ClassVar[str] = "take_turn"
    speaker: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class SetRunMode(Operation[None]):
    """Auto mode (the server takes turns) or manual (the user asks for each)."""

    name: ClassVar[str] = "set_run_mode"
    mode: RunMode


@dataclass(frozen=True)
class SetSpeed(Operation[None]):
    """How fast auto mode speaks, 1 to 10."""

    name: ClassVar[str] = "set_speed"
    speed: int


@dataclass(frozen=True)
class Pause(Operation[None]):
    """Hold every turn until resumed."""

    name: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Resume(Operation[None]):
    """Carry on after a pause (in auto mode, auto mode carries on too)."""

    name: ClassVar[str] = "resume"


@dataclass(frozen=True)
class ContinueFor(Operation[None]):
    """Raise the conversation's message target by `messages`."""

    name: ClassVar[str] = "continue_for"
    messages: int


@dataclass(frozen=True)
class Stop(Operation[None]):
    """End the conversation: no more turns."""

    name: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Interject(Operation[Message | None]):
    """The user speaks into the conversation."""

    name: ClassVar[str] = "interject"
    text: str


@dataclass(frozen=True)
class AddMember(Operation[None]):
    """A persona joins the panel."""

    name: ClassVar[str] = "add_member"
    persona: Persona


@dataclass(frozen=True)
class ReplaceMember(Operation[None]):
    """A persona of the panel is replaced by another version of itself (same id)."""

    name: ClassVar[str] = "replace_member"
    persona: Persona


@dataclass(frozen=True)
class RemoveMember(Operation[None]):
    """A persona leaves the panel."""

    name: ClassVar[str] = "remove_member"
    persona_id: str


@dataclass(frozen=True)
class WriteMemo(Operation[dict[str, Any]]):
    """Write the decision memo now, from `chair` if given."""

    name: ClassVar[str] = "write_memo"
    chair: ModelId | None = None


@dataclass(frozen=True)
class MemoOrWrite(Operation[dict[str, Any]]):
    """The decision memo: the one written already, else a new one."""

    name: ClassVar[str] = "memo_or_write"


@dataclass(frozen=True)
class Delete(Operation[None]):
    """Delete the conversation and close its watchers' streams."""

    name: ClassVar[str] = "delete"


OPERATIONS: dict[str, type[Operation[Any]]] = {
    kind.name: kind
    for kind in (
        TakeTurn,
        SetRunMode,
        SetSpeed,
        Pause,
        Resume,
        ContinueFor,
        Stop,
        Interject,
        AddMember,
        ReplaceMember,
        RemoveMember,
        WriteMemo,
        MemoOrWrite,
        Delete,
    )
}
"""Every operation by its name on the wire (the names are the methods they used to be)."""

Op = TypeVar("Op", bound=Operation[Any])


class Handlers:
    """Which function of this process runs each kind of operation on a conversation it holds."""

    def __init__(self) -> None:
        self._by_kind: dict[type[Operation[Any]], Callable[[Target, Any], Awaitable[object]]] = {}

    def add(self, kind: type[Op], handler: Callable[[Target, Op], Awaitable[object]]) -> None:
        self._by_kind[kind] = handler

    def check_complete(self) -> None:
        """Every operation has its handler: a missing one fails at start-up, not on first use."""
        missing = sorted(name for name, kind in OPERATIONS.items() if kind not in self._by_kind)
        if missing:
            raise RuntimeError(f"operations without a handler: {', '.join(missing)}")

    async def run(self, target: Target, operation: Operation[R]) -> R:
        # `add` ties each handler to its operation's type; the result type follows from it.
        return cast(R, await self._by_kind[type(operation)](target, operation))

    @staticmethod
    def operation(name: str, arguments: dict[str, Any]) -> Operation[Any]:
        """The operation a forwarded request names, with its (decoded) arguments."""
        return OPERATIONS[name](**arguments)
