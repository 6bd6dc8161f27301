"""Live events over Server-Sent Events, with Last-Event-ID catch-up and heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from thinktank.api.deps import CurrentUser, Service
from thinktank.events.log import LoggedEvent

router = APIRouter(tags=["events"])

HEARTBEAT_SECONDS = 15.0


def sse_frame(event: LoggedEvent) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, separators=(',', ':'))}\n\n"


@router.get("/conversations/{conversation_id}/events", response_class=StreamingResponse)
async def conversation_events(
    conversation_id: str,
    request: Request,
    service: Service,
    user: CurrentUser,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
) -> StreamingResponse:
    """Turn decided, token deltas, message completed, costs, members, state, errors, as they happen.

    Reconnect with `Last-Event-ID` to get exactly what was missed. `sync.required` means the
    missed events are gone (another server process, or too long ago): refetch the messages.
    """
    await service.live(user_id=user, conversation_id=conversation_id)
    log = service.bus.log(conversation_id)
    heartbeat = request.app.state.heartbeat_seconds

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        events = log.subscribe(last_event_id).__aiter__()
        pending: asyncio.Task[LoggedEvent] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=heartbeat)
                if not done:
                    if await request.is_disconnected():
                        return
                    yield ": heartbeat\n\n"
                    continue
                event = pending.result()
                pending = None
                yield sse_frame(event)
        finally:
            if pending is not None:
                pending.cancel()
            await events.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
