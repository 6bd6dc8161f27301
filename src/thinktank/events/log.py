"""An in-process event bus with a replay buffer per conversation.

Every event gets an id `EPOCH-SEQ`: SEQ counts up per conversation, EPOCH names this process's
bus. A subscriber that reconnects with Last-Event-ID gets exactly the events after it, from the
buffer, then live ones, with no gap and no duplicate. When that is impossible (another process
epoch, or older than the buffer) it gets one `sync.required` event: refetch the messages.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

DEFAULT_CAPACITY = 20_000


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    id: str
    seq: int
    type: str
    data: dict[str, Any]


class ConversationLog:
    def __init__(self, epoch: str, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.epoch = epoch
        self._events: deque[LoggedEvent] = deque(maxlen=capacity)
        self._next = 1
        self._subscribers: set[asyncio.Queue[LoggedEvent]] = set()

    def append(self, data: dict[str, Any]) -> LoggedEvent:
        event = LoggedEvent(f"{self.epoch}-{self._next}", self._next, str(data.get("type", "event")), data)
        self._next += 1
        self._events.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)
        return event

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

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

    async def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[LoggedEvent]:
        queue: asyncio.Queue[LoggedEvent] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            replay = self._replay(last_event_id)
            if replay is None:
                sent = self._next - 1
                yield LoggedEvent(f"{self.epoch}-{sent}", sent, "sync.required", {"type": "sync.required"})
            else:
                sent = (
                    replay[-1].seq
                    if replay
                    else self._next - 1
                    if last_event_id is None
                    else _seq(last_event_id)
                )
                for event in replay:
                    yield event
            while True:
                event = await queue.get()
                if event.seq > sent:
                    sent = event.seq
                    yield event
        finally:
            self._subscribers.discard(queue)


def _seq(event_id: str) -> int:
    return int(event_id.rpartition("-")[2])


class EventBus:
    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.epoch = secrets.token_hex(4)
        self._capacity = capacity
        self._logs: dict[str, ConversationLog] = {}

    def log(self, conversation_id: str) -> ConversationLog:
        if conversation_id not in self._logs:
            self._logs[conversation_id] = ConversationLog(self.epoch, capacity=self._capacity)
        return self._logs[conversation_id]

    def publish(self, conversation_id: str, data: dict[str, Any]) -> LoggedEvent:
        return self.log(conversation_id).append(data)

    def forget(self, conversation_id: str) -> None:
        self._logs.pop(conversation_id, None)

    @property
    def subscriber_count(self) -> int:
        return sum(log.subscriber_count for log in self._logs.values())
