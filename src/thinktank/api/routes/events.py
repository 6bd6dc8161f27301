"""Live events over Server-Sent Events, with Last-Event-ID catch-up and heartbeats."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from thinktank.events.log import CONVERSATION_DELETED
from thinktank.presenters.deps import CurrentUser, Service

router = APIRouter(tags=["events"])

HEARTBEAT_SECONDS = 15.0
DELETED_FRAME = f"\nevent: {CONVERSATION_DELETED}\n"


@router.get("/conversations/{conversation_id}/events", response_class=StreamingResponse)
async def conversation_events(
    conversation_id: str,
    request: Request,
    service: Service,
    user: CurrentUser,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    since: str | None = Query(
        None, max_length=100, description="An event id to start after, for the first connection of a page"
    ),
) -> StreamingResponse:
    """Turn decided, token deltas, message completed, costs, members, state, errors, as they happen.

    Reconnect with `Last-Event-ID` to get exactly what was missed. `sync.required` means the
    missed events are gone (another server process, or too long ago): refetch the messages.
    `conversation.deleted` is the last event of a conversation that was deleted: the stream ends.
    """
    await service.check_access(user_id=user, conversation_id=conversation_id)
    heartbeat = request.app.state.heartbeat_seconds
    # A reconnect's Last-Event-ID is newer than the page's `since`, so it wins.
    events = await service.bus.subscribe(conversation_id, last_event_id or since, heartbeat=heartbeat)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for chunk in events:
            yield chunk
            if DELETED_FRAME in chunk:
                return  # nothing more will ever happen here: the client should not reconnect

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
