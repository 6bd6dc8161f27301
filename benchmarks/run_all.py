"""`make bench`: every benchmark in one run, each printing its table and writing JSON to results/;
then the README's performance table, rendered from those files (`readme_table.py`).
`make bench BENCH_ARGS=--deployed` also runs the load benchmark's deployed shape (PostgreSQL + Redis,
2 web processes + 2 workers; it flushes Redis db 14, so it is left out unless asked for).

Each benchmark runs in a process of its own, one after the other: a benchmark that loads a model,
imports AutoGen or leaves a large heap behind would otherwise slow the ones after it (the SSE
latency figure, whose clients run in this process, was twice as high after the local-model
benchmarks as on its own).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import readme_table

HERE = Path(__file__).parent
BENCHMARKS = (
    "engine_overhead",
    "peer_autogen",
    "selection_cost",
    "context_growth",
    "local_throughput",
    "local_quality",
    "sse_latency",
    "room_open",
    "load",
)


def main(args: list[str]) -> int:
    failed = []
    for name in BENCHMARKS:
        started = time.monotonic()
        extra = ["--deployed"] if name == "load" and "--deployed" in args else []
        # One broken benchmark must not throw away the others' figures; it is named and fails the run.
        result = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra], cwd=HERE, check=False)
        print(f"  ({name}: {time.monotonic() - started:.0f} s)", flush=True)
        if result.returncode != 0:
            failed.append(f"{name}: exit status {result.returncode}")
    readme_table.main()
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
