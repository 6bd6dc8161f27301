"""The pause between auto turns: (11 - speed) seconds from the last reply's last word, cut short
when the speed or the status changes."""

from __future__ import annotations

import asyncio

from thinktank.models.clock import Clock


class Pacer:
    """Waits between auto turns and wakes early when told (a new speed, a pause, a stop).

    The clock is the engine's, passed at each use: the engine's owner may swap it (tests do).
    """

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._reply_ended: float | None = None

    def wake(self) -> None:
        self._wake.set()

    def reply_ended(self, clock: Clock) -> None:
        self._reply_ended = clock.monotonic()

    async def wait(self, clock: Clock, delay: float, *, after_reply: bool) -> None:
        if after_reply and self._reply_ended is not None:
            # The pause runs from the reply's last word, as the reader saw it, not from the
            # moment the message was committed: under load the group commit takes a while, and
            # waiting for it on top of the pause would slow every conversation by that much.
            delay -= clock.monotonic() - self._reply_ended
        if delay <= 0:
            return
        self._wake.clear()
        sleeper = asyncio.ensure_future(clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when this run is cancelled: no task is left pending
            sleeper.cancel()
            waker.cancel()
