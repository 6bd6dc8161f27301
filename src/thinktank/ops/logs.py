"""Structured logs (structlog): one JSON object a line in staging and production, readable text on
a developer's machine. Every line carries the request id and the conversation id when there is
one; secrets never reach a log line (keys, tokens, passwords, cookies are masked by name and by
shape).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

SECRET_NAMES = re.compile(r"(api_?key|authorization|password|secret|token|cookie|dsn|encrypted)", re.I)
# Provider keys and bearer tokens by shape, wherever they appear in a message.
SECRET_SHAPES = re.compile(
    r"(sk-(?:ant-)?[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,}|tt_[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._~+/-]{8,}"
    r"|redis://[^:@/\s]*:[^@\s]+@|postgres(?:ql)?(?:\+\w+)?://[^:@/\s]*:[^@\s]+@)"
)
MASK = "[redacted]"


def _mask_text(text: str) -> str:
    return SECRET_SHAPES.sub(MASK, text)


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        value = event[key]
        if key not in ("event", "level", "timestamp", "logger") and SECRET_NAMES.search(key):
            event[key] = MASK
        elif isinstance(value, str):
            event[key] = _mask_text(value)
    return event


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    *, log_format: Literal["json", "text"], level: int = logging.INFO, process: str
) -> None:
    """Route the standard library's logging (ours, uvicorn's, arq's) through structlog."""
    pre_chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,  # after the traceback became text, so it is masked too
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access lines come from our own middleware (with ids and timings); uvicorn's would repeat them.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("arq.worker").setLevel(logging.WARNING)
    for chatty in ("httpx", "httpx2", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*pre_chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)
