"""An in-process event bus with a replay buffer per conversation.

Every event gets an id `EPOCH-SEQ`: SEQ counts up per conversation, EPOCH names this process's
bus. A subscriber that reconnects with Last-Event-ID gets exactly the events after it, from the
buffer, then live ones, with no gap and no duplicate. When that is impossible (another process
epoch, or older than the buffer) it gets one `sync.required` event: refetch the messages.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_CAPACITY = 20_000


@dataclass(frozen=True)
class LoggedEvent:
    """One published event: its id, sequence number, type and data."""

    id: str
    seq: int
    type: str
    data: dict[str, Any]

    @functools.cached_property
    def frame(self) -> str:
        """The event as one SSE frame, serialised when a client first needs it (an unwatched
        conversation never pays for it) and then once however many clients watch."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


def _logged(epoch: str, seq: int, data: dict[str, Any]) -> LoggedEvent:
    return LoggedEvent(f"{epoch}-{seq}", seq, str(data.get("type", "event")), data)


HEARTBEAT = ": heartbeat\n\n"
STATE_CHANGED = "state.changed"
RESYNC = "sync.required"
"""Told instead of the events a subscriber missed when they are no longer kept: refetch."""
CONVERSATION_DELETED = "conversation.deleted"
"""The last event of a deleted conversation: watchers stop there."""
TURN_STARTS = "turn.decided"
TURN_ENDS = frozenset({"message.completed", "error", STATE_CHANGED})
"""A turn in progress is a `turn.decided` with none of these after it (a state change ends the
stream of a turn too: the room drops its streaming bubble on it)."""


class ConversationLog:
    """One conversation's recent events in memory, replayed to subscribers that reconnect."""

    def __init__(self, epoch: str, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.epoch = epoch
        self._events: deque[LoggedEvent] = deque(maxlen=capacity)
        self._next = 1
        self._subscribers: set[asyncio.Queue[LoggedEvent | str]] = set()

    def append(self, data: dict[str, Any]) -> LoggedEvent:
        # `at`: when the server published it (Unix seconds), so a client can order and time events.
        data = {**data, "at": round(time.time(), 6)}
        event = _logged(self.epoch, self._next, data)
        self._next += 1
        self._events.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)
        return event

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def last_id(self) -> str:
        """The id of the newest event so far: a page rendered now subscribes from here."""
        return f"{self.epoch}-{self._next - 1}"

    def open_turn(self) -> str | None:
        """Where to replay from to see the turn in progress from its start: the id just before
        its `turn.decided`; None when no turn is in progress or its start is no longer kept."""
        for event in reversed(self._events):
            if event.type in TURN_ENDS:
                return None
            if event.type == TURN_STARTS:
                return f"{self.epoch}-{event.seq - 1}"
        return None

    def _replay(self, last_event_id: str | None) -> list[LoggedEvent] | None:
        """Events after `last_event_id`, or None when they are no longer all here."""
        if last_event_id is None:
            return []
        epoch, _, seq_text = last_event_id.rpartition("-")
        if epoch != self.epoch or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        oldest = self._events[0].seq if self._events else self._next
        if seq < oldest - 1:
            return None
        return [e for e in self._events if e.seq > seq]

    async def subscribe(
        self, last_event_id: str | None = None, *, heartbeat: float | None = None
    ) -> AsyncIterator[str]:
        """SSE text: what was missed, then live events, batched when several are waiting, with a
        heartbeat comment after `heartbeat` quiet seconds."""
        queue: asyncio.Queue[LoggedEvent | str] = asyncio.Queue()
        self._subscribers.add(queue)
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def arm() -> None:
            nonlocal timer
            if heartbeat is not None:
                timer = loop.call_later(heartbeat, queue.put_nowait, HEARTBEAT)

        try:
            replay = self._replay(last_event_id)
            if replay is None:
                sent = self._next - 1
                yield _logged(self.epoch, sent, {"type": RESYNC}).frame
            else:
                sent = (
                    replay[-1].seq
                    if replay
                    else self._next - 1
                    if last_event_id is None
                    else _seq(last_event_id)
                )
                if replay:
                    yield "".join(event.frame for event in replay)
            arm()
            while True:
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                if timer is not None:
                    timer.cancel()
                frames = []
                for item in items:
                    if isinstance(item, str):
                        frames.append(item)
                    elif item.seq > sent:
                        sent = item.seq
                        frames.append(item.frame)
                if frames:
                    yield "".join(frames)
                arm()
        finally:
            if timer is not None:
                timer.cancel()
            self._subscribers.discard(queue)


def event_types(sse: str) -> set[str]:
    """The types of the events in SSE text (one frame or several, from either bus)."""
    return {line.removeprefix("event: ") for line in sse.split("\n") if line.startswith("event: ")}


def _seq(event_id: str) -> int:
    return int(event_id.rpartition("-")[2])


class Bus(Protocol):
    """Where a conversation's events go and where SSE clients read them: in-process by default,
    Redis Streams when several processes serve one deployment (`events.redis_bus`)."""

    async def publish(self, conversation_id: str, data: dict[str, Any]) -> None: ...

    async def last_id(self, conversation_id: str) -> str:
        """The id of the newest event so far: a page rendered now subscribes from here."""
        ...

    async def open_turn(self, conversation_id: str) -> str | None:
        """The id just before the start of the turn in progress (a page rendered mid-stream
        subscribes from there to get the words said so far), or None."""
        ...

    async def subscribe(
        self, conversation_id: str, last_event_id: str | None, *, heartbeat: float | None = None
    ) -> AsyncIterator[str]:
        """SSE text from after `last_event_id`; checks what it needs before returning the stream."""
        ...

    async def forget(self, conversation_id: str) -> None: ...

    @property
    def subscriber_count(self) -> int: ...

    async def close(self) -> None: ...


class EventBus:
    """The in-process bus: one process serves every client of a conversation."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.epoch = secrets.token_hex(4)
        self._capacity = capacity
        self._logs: dict[str, ConversationLog] = {}

    def log(self, conversation_id: str) -> ConversationLog:
        if conversation_id not in self._logs:
            self._logs[conversation_id] = ConversationLog(self.epoch, capacity=self._capacity)
        return self._logs[conversation_id]

    async def publish(self, conversation_id: str, data: dict[str, Any]) -> None:
        self.log(conversation_id).append(data)

    async def last_id(self, conversation_id: str) -> str:
        return self.log(conversation_id).last_id

    async def open_turn(self, conversation_id: str) -> str | None:
        return self.log(conversation_id).open_turn()

    async def subscribe(
        self, conversation_id: str, last_event_id: str | None, *, heartbeat: float | None = None
    ) -> AsyncIterator[str]:
        return self.log(conversation_id).subscribe(last_event_id, heartbeat=heartbeat)

    async def forget(self, conversation_id: str) -> None:
        self._logs.pop(conversation_id, None)

    async def close(self) -> None:
        self._logs.clear()

    @property
    def subscriber_count(self) -> int:
        return sum(log.subscriber_count for log in self._logs.values())
