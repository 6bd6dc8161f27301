"""Engine overhead per turn: 5 personas, 200 turns, the scripted model at zero latency.

Overhead is the whole turn (orchestrator, prompt building, the wrapper stack, speaker guard,
events, books) minus the time the scripted model itself spends producing its text. Two figures:

bare         the engine alone: events go nowhere, nothing is stored (what a library user pays)
server path  the engine as the server runs it: every event published to the in-process bus and
             serialised for one SSE subscriber, every message and charge written to SQLite through
             the group-committing writer; a turn ends when the subscriber has read its last event
Target: p50 <= 1 ms (bare).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import (
    PANEL,
    ModelWatch,
    panel_spec,
    percentile,
    scripted_panel,
    table,
    watching_scripted_model,
    write,
)
from thinktank.conversations import ConversationService
from thinktank.engine.engine import ConversationEngine
from thinktank.events.log import EventBus
from thinktank.library.loader import load_library
from thinktank.models.keys import ProviderKeys
from thinktank.models.stack import ModelFactory
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import scoped

TURNS = 200
PERSONAS = PANEL
TARGET_P50_MS = 1.0


class Subscriber:
    """One SSE client of a conversation, reading the bus's frames as the server's endpoint does."""

    def __init__(self, stream: AsyncIterator[str]) -> None:
        self.last_id = ""
        self.bytes = 0
        self._stream = stream
        self._moved = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self._stream:
            self.bytes += len(text.encode())
            cut = text.rfind("\nid: ")
            line = text[cut + 1 :] if cut >= 0 else text
            if line.startswith("id: "):
                self.last_id = line[4 : line.index("\n")]
            self._moved.set()

    async def caught_up(self, last_id: str) -> None:
        while self.last_id != last_id:
            self._moved.clear()
            await self._moved.wait()

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def measure(
    engine: ConversationEngine, watch: ModelWatch, *, settle: Callable[[], Awaitable[None]] | None = None
) -> dict[str, Any]:
    overheads, totals, models = [], [], []
    for _ in range(TURNS):
        watch.seconds = 0.0
        started = time.perf_counter()
        message = await engine.take_turn()
        if settle is not None:
            await settle()
        elapsed = time.perf_counter() - started
        assert message is not None
        overheads.append((elapsed - watch.seconds) * 1000)
        totals.append(elapsed * 1000)
        models.append(watch.seconds * 1000)

    def spread(values: list[float]) -> dict[str, float]:
        return {"p50": percentile(values, 50), "p99": percentile(values, 99)}

    return {"overhead_ms": spread(overheads), "model_ms": spread(models), "turn_ms": spread(totals)}


async def bare() -> dict[str, Any]:
    engine = scripted_panel(messages=TURNS)
    with watching_scripted_model() as watch:
        return await measure(engine, watch)


async def server_path() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="thinktank-overhead-") as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        bus = EventBus()
        factory = ModelFactory(keys=ProviderKeys())
        service = ConversationService(db=db, library=load_library(), factory=factory, bus=bus)
        subscriber: Subscriber | None = None
        try:
            await db.upgrade()
            with scoped(LOCAL_USER_ID):
                await service.start()
                row = await service.create(user_id=LOCAL_USER_ID, spec=panel_spec(messages=TURNS))
                engine = await service.engine(user_id=LOCAL_USER_ID, conversation_id=row.id)
                subscriber = Subscriber(await bus.subscribe(row.id, None))
                watching = subscriber

                async def settle() -> None:
                    await watching.caught_up(await bus.last_id(row.id))

                with watching_scripted_model() as watch:
                    result = await measure(engine, watch, settle=settle)
                result["sse_bytes_per_turn"] = subscriber.bytes / TURNS
                return result
        finally:
            if subscriber is not None:
                await subscriber.close()
            await service.close()
            await db.dispose()


def rows(name: str, result: dict[str, Any]) -> list[list[object]]:
    labels = {"overhead_ms": "engine overhead", "model_ms": "model (scripted) time", "turn_ms": "whole turn"}
    return [
        [f"{name}: {label}", f"{result[key]['p50']:.3f}", f"{result[key]['p99']:.3f}"]
        for key, label in labels.items()
    ]


async def main() -> dict[str, object]:
    alone = await bare()
    served = await server_path()
    table(
        f"Engine overhead per turn ({len(PERSONAS)} personas, {TURNS} turns, scripted model, zero latency)",
        ["", "p50 ms", "p99 ms"],
        rows("bare", alone) + rows("server path (SSE + SQLite)", served),
    )
    p50 = alone["overhead_ms"]["p50"]
    served_p50 = served["overhead_ms"]["p50"]
    verdict = "meets" if p50 <= TARGET_P50_MS else "misses"
    print(f"  target p50 <= {TARGET_P50_MS} ms (bare): {verdict} (p50 / target = {p50 / TARGET_P50_MS:.2f})")
    print(f"  server path / bare (p50): {served_p50 / p50:.2f}")
    write(
        "engine_overhead",
        {
            "turns": TURNS,
            "personas": len(PERSONAS),
            "bare": alone,
            "server_path": served,
            "server_over_bare_p50": served_p50 / p50,
            "target_p50_ms": TARGET_P50_MS,
            "meets_target": p50 <= TARGET_P50_MS,
        },
    )
    return {"p50_ms": p50, "server_p50_ms": served_p50}


if __name__ == "__main__":
    asyncio.run(main())
