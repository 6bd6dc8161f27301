"""Engine overhead per turn: 5 personas, 200 turns, the scripted model at zero latency.

Overhead is the whole turn (orchestrator, prompt building, the wrapper stack, speaker guard,
events, books) minus the time the scripted model itself spends producing its text.
Target: p50 <= 1 ms.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from _common import PANEL, percentile, scripted_panel, table, write
from thinktank.models import scripted

TURNS = 200
PERSONAS = PANEL
TARGET_P50_MS = 1.0

model_seconds = 0.0
_original_generate = scripted.ScriptedModel.generate


def _timed_generate(self, chat, settings):  # type: ignore[no-untyped-def]
    """The scripted model's own time: making its reply and handing out each chunk."""

    async def generator() -> AsyncIterator[scripted.Chunk]:
        global model_seconds
        inner = _original_generate(self, chat, settings)
        while True:
            started = time.perf_counter()
            try:
                chunk = await inner.__anext__()
            except StopAsyncIteration:
                model_seconds += time.perf_counter() - started
                return
            model_seconds += time.perf_counter() - started
            yield chunk

    return generator()


async def main() -> dict[str, object]:
    global model_seconds
    scripted.ScriptedModel.generate = _timed_generate  # type: ignore[method-assign]
    engine = scripted_panel(messages=TURNS)
    overheads, totals, models = [], [], []
    for _ in range(TURNS):
        model_seconds = 0.0
        started = time.perf_counter()
        message = await engine.take_turn()
        elapsed = time.perf_counter() - started
        assert message is not None
        overheads.append((elapsed - model_seconds) * 1000)
        totals.append(elapsed * 1000)
        models.append(model_seconds * 1000)
    p50, p99 = percentile(overheads, 50), percentile(overheads, 99)
    table(
        f"Engine overhead per turn ({len(PERSONAS)} personas, {TURNS} turns, scripted model, zero latency)",
        ["", "p50 ms", "p99 ms"],
        [
            ["engine overhead", f"{p50:.3f}", f"{p99:.3f}"],
            ["model (scripted) time", f"{percentile(models, 50):.3f}", f"{percentile(models, 99):.3f}"],
            ["whole turn", f"{percentile(totals, 50):.3f}", f"{percentile(totals, 99):.3f}"],
        ],
    )
    verdict = "meets" if p50 <= TARGET_P50_MS else "misses"
    print(f"  target p50 <= {TARGET_P50_MS} ms: {verdict} (p50 / target = {p50 / TARGET_P50_MS:.2f})")
    return write(
        "engine_overhead",
        {
            "turns": TURNS,
            "personas": len(PERSONAS),
            "overhead_ms": {"p50": p50, "p99": p99},
            "model_ms": {"p50": percentile(models, 50), "p99": percentile(models, 99)},
            "turn_ms": {"p50": percentile(totals, 50), "p99": percentile(totals, 99)},
            "target_p50_ms": TARGET_P50_MS,
            "meets_target": p50 <= TARGET_P50_MS,
        },
    ) and {"p50_ms": p50}


if __name__ == "__main__":
    asyncio.run(main())
