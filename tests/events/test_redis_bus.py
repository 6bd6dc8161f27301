"""The Redis Streams bus on this machine's Redis: ids that survive a process change, resync when
they cannot, merged token deltas, and a gap after a failed publish announced, not hidden."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from thinktank.events.redis_bus import EPOCH_KEY, RedisEventBus, stream_key

pytestmark = pytest.mark.redis


def frames(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if fields:
            events.append(fields)
    return events


async def read(bus: RedisEventBus, cid: str, last: str | None, count: int) -> list[dict[str, str]]:
    stream = await bus.subscribe(cid, last, heartbeat=0.2)
    seen: list[dict[str, str]] = []
    async with asyncio.timeout(5):
        async for chunk in stream:
            seen += frames(chunk)
            if len(seen) >= count:
                break
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()
    return seen


async def test_a_second_bus_replays_exactly_what_follows_an_id_of_the_first(redis: Redis) -> None:
    writer, reader = RedisEventBus(redis), RedisEventBus(redis)
    for n in range(5):
        await writer.publish("c1", {"type": "state.changed", "n": n})
    everything = await read(reader, "c1", f"{(await reader.last_id('c1')).split(':')[0]}:0-0", 5)
    assert [json.loads(e["data"])["n"] for e in everything] == [0, 1, 2, 3, 4]
    rest = await read(reader, "c1", everything[1]["id"], 3)
    assert [e["id"] for e in rest] == [e["id"] for e in everything[2:]]
    assert all(e["event"] == "state.changed" for e in rest)


async def test_an_id_from_another_redis_lifetime_or_a_trimmed_entry_asks_for_a_resync(redis: Redis) -> None:
    bus = RedisEventBus(redis, capacity=3)
    await bus.publish("c1", {"type": "state.changed"})
    first_id = await bus.last_id("c1")
    assert json.loads((await read(bus, "c1", "0000:1-0", 1))[0]["data"])["type"] == "sync.required"
    for _ in range(200):
        await bus.publish("c1", {"type": "state.changed"})
    assert (await read(bus, "c1", first_id, 1))[0]["event"] == "sync.required"
    await redis.delete(EPOCH_KEY)  # as if Redis restarted
    latest = await bus.last_id("c1")
    assert latest.split(":")[0] != first_id.split(":")[0]


async def test_token_deltas_are_merged_and_keep_their_order_with_other_events(redis: Redis) -> None:
    bus = RedisEventBus(redis)
    start = await bus.last_id("c1")
    for word in ("Hello ", "there, ", "friend."):
        await bus.publish("c1", {"type": "token.delta", "persona_id": "cfo", "text": word})
    await bus.publish("c1", {"type": "message.completed", "message": {"index": 1}})
    events = await read(bus, "c1", start, 2)
    assert [e["event"] for e in events] == ["token.delta", "message.completed"]
    assert json.loads(events[0]["data"])["text"] == "Hello there, friend."
    assert await redis.xlen(stream_key("c1")) == 2


async def test_events_lost_while_redis_was_unreachable_are_announced_by_a_resync(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = RedisEventBus(redis)
    start = await bus.last_id("c1")
    real_append = bus._append

    async def unreachable(**_: object) -> None:
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(bus, "_append", unreachable)
    await bus.publish("c1", {"type": "message.completed", "message": {"index": 1}})  # logged, not raised
    monkeypatch.setattr(bus, "_append", real_append)
    await bus.publish("c1", {"type": "message.completed", "message": {"index": 2}})
    events = await read(bus, "c1", start, 2)
    assert [e["event"] for e in events] == ["sync.required", "message.completed"]


async def test_subscribing_while_redis_is_unreachable_fails_before_any_stream_starts() -> None:
    client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    try:
        with pytest.raises(RedisConnectionError):
            await RedisEventBus(client).subscribe("c1", None)
    finally:
        await client.aclose()


async def test_a_turn_in_progress_is_replayed_from_its_start(redis: Redis) -> None:
    bus = RedisEventBus(redis)
    assert await bus.open_turn("c1") is None
    await bus.publish("c1", {"type": "message.completed", "message": {"index": 0}})
    await bus.publish("c1", {"type": "turn.decided", "persona_id": "cfo"})
    for word in ("Margins ", "first."):
        await bus.publish("c1", {"type": "token.delta", "persona_id": "cfo", "text": word})
    await bus.flush()
    start = await bus.open_turn("c1")
    assert start is not None
    events = await read(bus, "c1", start, 2)
    assert [e["event"] for e in events] == ["turn.decided", "token.delta"]
    await bus.publish("c1", {"type": "message.completed", "message": {"index": 1}})
    assert await bus.open_turn("c1") is None
