"""Sentry error reports, only when SENTRY_DSN is set: nothing is initialised or sent otherwise."""

from __future__ import annotations

from typing import Any

from thinktank.ops.logs import MASK, SECRET_NAMES, SECRET_SHAPES
from thinktank.settings import Settings


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_SHAPES.sub(MASK, value)
    if isinstance(value, dict):
        return {k: MASK if SECRET_NAMES.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """Keys, tokens, cookies and passwords never leave the process, whatever the error carried."""
    scrubbed: dict[str, Any] = _scrub(event)
    return scrubbed


def init_sentry(settings: Settings, *, process: str) -> bool:
    """Start reporting to Sentry when a DSN is configured; True if it did."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release="thinktank@0.1.0",
        server_name=process,
        # The seed: every trace in development and staging, one in ten in production.
        traces_sample_rate=0.1 if settings.environment == "production" else 1.0,
        before_send=before_send,  # type: ignore[arg-type]
    )
    return True
