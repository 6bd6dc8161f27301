"""The event bus on Redis Streams, for several server and worker processes.

Each conversation's events are one stream (`tt:events:{id}`, trimmed to about DEFAULT_CAPACITY
entries, expiring a day after the last event). An event's SSE id is `{epoch}:{stream id}`, where
the epoch names this Redis's lifetime: a client that reconnects with an id of the same epoch
whose entry is still in the stream gets exactly the entries after it, from whichever web process
it reaches. Anything else (Redis restarted, entry trimmed, an id from the in-process bus) gets
one `sync.required`: refetch the messages, which the database holds.

Token deltas are many and small, so they are merged per conversation and written every
DELTA_FLUSH_SECONDS in one pipeline; any other event first flushes the deltas before it, so the
order is kept. If Redis cannot be reached, publishing logs and drops the event (the database has
the messages) and the next event that does reach the stream is preceded by `sync.required`, so
no client silently misses a gap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from thinktank.events.log import DEFAULT_CAPACITY, HEARTBEAT, TURN_ENDS, TURN_STARTS

log = logging.getLogger(__name__)

EPOCH_KEY = "tt:events:epoch"
STREAM_TTL_SECONDS = 24 * 3600
DELTA_FLUSH_SECONDS = 0.05
READ_BATCH = 500
OPEN_TURN_SCAN = 2000
"""How far back a page looks for the start of the turn in progress (a long reply's deltas)."""
SYNC_REQUIRED = json.dumps({"type": "sync.required"}, separators=(",", ":"))

# One round trip: make sure the epoch exists, append, trim, and keep the stream alive a day.
_APPEND = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local id = false
for i = 4, #ARGV, 2 do
  id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 't', ARGV[i], 'd', ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {epoch, id}
"""


def stream_key(conversation_id: str) -> str:
    return f"tt:events:{conversation_id}"


def _frame(epoch: str, entry_id: str, kind: str, payload: str) -> str:
    return f"id: {epoch}:{entry_id}\nevent: {kind}\ndata: {payload}\n\n"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisEventBus:
    """The bus on Redis Streams: every web process serves the events of every conversation."""

    def __init__(self, redis: Redis, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.redis = redis
        self._capacity = capacity
        self._append = redis.register_script(_APPEND)
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._gapped: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._subscribers = 0

    # --- publishing ------------------------------------------------------------------------------

    async def publish(self, conversation_id: str, data: dict[str, Any]) -> None:
        data = {**data, "at": round(time.time(), 6)}
        if data.get("type") == "token.delta":
            pending = self._pending.setdefault(conversation_id, [])
            last = pending[-1] if pending else None
            if last is not None and last.get("persona_id") == data.get("persona_id"):
                last["text"] = str(last["text"]) + str(data.get("text", ""))
            else:
                pending.append(data)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_soon(), name="event delta flush")
            return
        events = [*self._pending.pop(conversation_id, []), data]
        await self._write(conversation_id, events)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(DELTA_FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        """Write every merged delta still waiting."""
        pending, self._pending = self._pending, {}
        for conversation_id, events in pending.items():
            await self._write(conversation_id, events)

    async def _write(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        payloads: list[str] = []
        if conversation_id in self._gapped:
            payloads += ["sync.required", SYNC_REQUIRED]
        for event in events:
            payloads += [str(event.get("type", "event")), json.dumps(event, separators=(",", ":"))]
        try:
            await self._append(
                keys=[EPOCH_KEY, stream_key(conversation_id)],
                args=[secrets.token_hex(4), self._capacity, STREAM_TTL_SECONDS, *payloads],
            )
        except RedisError as exc:
            if conversation_id not in self._gapped:
                log.warning(
                    "live events of a conversation could not reach Redis (%s); its viewers will resync",
                    type(exc).__name__,
                )
            self._gapped.add(conversation_id)
            return
        self._gapped.discard(conversation_id)

    # --- reading ---------------------------------------------------------------------------------

    async def _epoch(self) -> str:
        epoch = await self.redis.get(EPOCH_KEY)
        if epoch is None:
            await self.redis.set(EPOCH_KEY, secrets.token_hex(4), nx=True)
            epoch = await self.redis.get(EPOCH_KEY)
        return _text(epoch or b"")

    async def _newest(self, key: str) -> str:
        """The stream id of the newest entry, or `0-0` when the stream is empty or gone."""
        newest = await self.redis.xrevrange(key, count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def last_id(self, conversation_id: str) -> str:
        epoch = await self._epoch()
        return f"{epoch}:{await self._newest(stream_key(conversation_id))}"

    async def open_turn(self, conversation_id: str) -> str | None:
        key = stream_key(conversation_id)
        recent = await self.redis.xrevrange(key, count=OPEN_TURN_SCAN)
        for entry_id, fields in recent:
            kind = _text(fields.get(b"t", b"event"))
            if kind in TURN_ENDS:
                return None
            if kind == TURN_STARTS:
                before = await self.redis.xrevrange(key, max=f"({_text(entry_id)}", count=1)
                return f"{await self._epoch()}:{_text(before[0][0]) if before else '0-0'}"
        return None

    async def _start(self, conversation_id: str, last_event_id: str | None) -> tuple[str, str, str | None]:
        """This Redis's epoch, where to read from, and the event to send first (a resync) if the
        client's id is no use."""
        epoch = await self._epoch()
        key = stream_key(conversation_id)
        if last_event_id is None:
            return epoch, await self._newest(key), None
        their_epoch, _, entry = last_event_id.partition(":")
        known = their_epoch == epoch and (entry == "0-0" or bool(await self.redis.xrange(key, entry, entry)))
        if known:
            return epoch, entry, None
        start = await self._newest(key)
        return epoch, start, f"id: {epoch}:{start}\nevent: sync.required\ndata: {SYNC_REQUIRED}\n\n"

    async def subscribe(
        self, conversation_id: str, last_event_id: str | None, *, heartbeat: float | None = None
    ) -> AsyncIterator[str]:
        """SSE text: what was missed, then live events, batched, with heartbeats when quiet. Ends
        when Redis goes away; the client reconnects and is told to resync if it missed anything.
        Redis is asked where to start before this returns, so an outage is an error, not a stream."""
        epoch, position, first = await self._start(conversation_id, last_event_id)
        return self._follow(conversation_id, position, first, epoch, heartbeat)

    async def _follow(
        self, conversation_id: str, position: str, first: str | None, epoch: str, heartbeat: float | None
    ) -> AsyncIterator[str]:
        key = stream_key(conversation_id)
        block_ms = int((heartbeat or 15.0) * 1000)
        self._subscribers += 1
        try:
            if first is not None:
                yield first
            while True:
                try:
                    answer = await self.redis.xread({key: position}, count=READ_BATCH, block=block_ms)
                except RedisError:
                    return  # the client reconnects with its last id and resyncs if it must
                if not answer:
                    if heartbeat is not None:
                        yield HEARTBEAT
                    continue
                entries = answer[0][1]
                frames = []
                for entry_id, fields in entries:
                    position = _text(entry_id)
                    kind = _text(fields.get(b"t", b"event"))
                    frames.append(_frame(epoch, position, kind, _text(fields.get(b"d", b"{}"))))
                yield "".join(frames)
        finally:
            self._subscribers -= 1

    # --- housekeeping ----------------------------------------------------------------------------

    async def forget(self, conversation_id: str) -> None:
        self._pending.pop(conversation_id, None)
        self._gapped.discard(conversation_id)
        await self.redis.delete(stream_key(conversation_id))

    @property
    def subscriber_count(self) -> int:
        return self._subscribers

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
        if self._pending:
            try:
                await self.flush()
            except RedisError:
                log.warning("live events still waiting were dropped at shutdown: Redis is unreachable")
