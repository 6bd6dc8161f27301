"""Garbage-collector settings for the long-running processes (server, worker, load test).

CPython's defaults run a young collection every 700 net allocations and, as the heap grows, full
collections that walk every live object. A server holding a thousand running conversations (their
messages, event buffers and streams) measured 0.9 s per full collection, ten of them in a minute,
each one stalling every stream at once. Objects made at start-up (modules, the library, prices)
live as long as the process, so they are frozen out of collection; young collections run less
often and full ones only when the older generations have really grown. Reference counting still
frees almost everything at once; this only changes how often cycles are looked for.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 50
OLD_THRESHOLD = 100


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
