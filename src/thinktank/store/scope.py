"""Whose rows a database transaction may touch, for PostgreSQL row-level security.

Every request runs in the scope of its user (set when the caller is identified); work that must
cross users (start-up, the retention purge, sign-in lookups, admin commands) runs in the system
scope. Each transaction tells PostgreSQL with `set_config('app.user_id' | 'app.scope', …, true)`,
and the policies of migration 0005 let it see only that user's rows. A query with no scope at
all sees nothing. SQLite has no row-level security; there the scope is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SYSTEM = "system"

_scope: ContextVar[str | None] = ContextVar("thinktank_db_scope", default=None)


def current_scope() -> str | None:
    return _scope.get()


def set_user_scope(user_id: str) -> None:
    """For the rest of this task (and the tasks it starts), act as this user."""
    _scope.set(user_id)


@contextmanager
def scoped(value: str) -> Iterator[None]:
    token = _scope.set(value)
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def system_scope() -> Iterator[None]:
    with scoped(SYSTEM):
        yield
