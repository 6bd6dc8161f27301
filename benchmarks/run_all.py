"""`make bench`: every benchmark in one run, each printing its table and writing JSON to results/."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import context_growth
import engine_overhead
import load
import local_quality
import local_throughput
import room_open
import selection_cost
import sse_latency


async def main() -> None:
    for module in (
        engine_overhead,
        selection_cost,
        context_growth,
        local_throughput,
        local_quality,
        sse_latency,
        room_open,
        load,
    ):
        await module.main()


if __name__ == "__main__":
    asyncio.run(main())
