"""The process-wide switch that forbids real network model calls (off in tests, like pydantic-ai's
ALLOW_MODEL_REQUESTS). Models built on a fake transport are exempt: they never reach a network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from thinktank.errors import NetworkModelsForbidden

_allowed = True


def network_models_allowed() -> bool:
    return _allowed


def set_network_models_allowed(allowed: bool) -> None:
    global _allowed
    _allowed = allowed


@contextmanager
def network_models(allowed: bool) -> Iterator[None]:
    previous = _allowed
    set_network_models_allowed(allowed)
    try:
        yield
    finally:
        set_network_models_allowed(previous)


def check_network_allowed(model_id: str) -> None:
    if not _allowed:
        raise NetworkModelsForbidden(
            f"real network model calls are forbidden in this process; refusing to call {model_id}"
        )
