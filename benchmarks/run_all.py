"""`make bench`: every benchmark in one run, each printing its table and writing JSON to results/;
then the README's performance table, rendered from those files (`readme_table.py`)."""

from __future__ import annotations

import asyncio
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import context_growth
import engine_overhead
import load
import local_throughput
import peer_autogen
import readme_table
import room_open
import selection_cost
import sse_latency


async def main() -> int:
    failed = []
    for module in (
        engine_overhead,
        peer_autogen,
        selection_cost,
        context_growth,
        local_throughput,
        sse_latency,
        room_open,
        load,
    ):
        try:
            await module.main()
        except Exception as exc:
            # One broken benchmark must not throw away the others' figures; it is named and fails the run.
            traceback.print_exc()
            failed.append(f"{module.__name__}: {type(exc).__name__}: {exc}")
    readme_table.main()
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
