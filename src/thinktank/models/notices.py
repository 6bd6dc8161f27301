"""What the model stack tells whoever is waiting for it, while it waits: "retrying (2/3)".

The stack is built once per persona and shared by every caller, so a listener is not a field of
any wrapper: the caller sets one for its own task with `retry_notices(...)`, and the retry wrapper
reports to whatever listener the current task has (none: nobody is told).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """Tells a listener that a provider call failed transiently and is tried again after a wait."""

    provider: str
    attempt: int
    """The attempt about to be made (2 for the first retry)."""
    attempts: int
    wait_s: float
    error: str
    """Why the previous attempt failed (the error's class name)."""


Listener = Callable[[RetryNotice], Awaitable[None]]
_listener: ContextVar[Listener | None] = ContextVar("thinktank_retry_listener", default=None)


class retry_notices:  # lower case: it reads as the function it replaced, `with retry_notices(listener):`
    """Tell `listener` of every retry in this task while the block runs. A class, not a generator
    context manager: it is entered on every reply, and costs a third as much this way."""

    __slots__ = ("_listener", "_token")

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._token: Token[Listener | None] | None = None

    def __enter__(self) -> None:
        self._token = _listener.set(self._listener)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _listener.reset(self._token)
            self._token = None


async def notify_retry(notice: RetryNotice) -> None:
    listener = _listener.get()
    if listener is not None:
        await listener(notice)
