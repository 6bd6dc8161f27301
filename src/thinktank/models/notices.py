"""What the model stack tells whoever is waiting for it, while it waits: "retrying (2/3)".

The stack is built once per persona and shared by every caller, so a listener is not a field of
any wrapper: the caller sets one for its own task with `retry_notices(...)`, and the retry wrapper
reports to whatever listener the current task has (none: nobody is told).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


@contextmanager
def retry_notices(listener: Listener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


async def notify_retry(notice: RetryNotice) -> None:
    listener = _listener.get()
    if listener is not None:
        await listener(notice)
