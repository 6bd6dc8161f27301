"""Words several layers must agree on, defined once: conversation status, retention, and the
opening lines of the prompts that the scripted model recognises (our own prompts, not sniffed text).
"""

from __future__ import annotations

from typing import Literal

ConversationStatus = Literal["idle", "running", "paused", "stopped", "finished"]

# Ended: the conversation takes no more turns (stopped by someone, or ran to its end).
ENDED: frozenset[str] = frozenset({"stopped", "finished"})
# Settled: nothing more happens without a person acting; a batch run or a load test stops waiting.
# A paused conversation is settled but not ended: it can be resumed.
SETTLED: frozenset[str] = ENDED | {"paused"}

# Why a conversation paused, stopped or went on when a person did it. Any other reason for a pause or
# a stop is the run stopping on its own (a stall, a provider's error, a budget): the room says why.
PAUSED_BY_USER = "paused by the user"
STOPPED_BY_USER = "stopped by the user"
RESUMED = "resumed"
SWITCHED_TO_MANUAL = "switched to manual mode"
QUIT_IN_TERMINAL = "you quit"
USER_REASONS: frozenset[str] = frozenset(
    {PAUSED_BY_USER, STOPPED_BY_USER, RESUMED, SWITCHED_TO_MANUAL, QUIT_IN_TERMINAL}
)


def stopped_on_its_own(status: str, reason: str | None) -> bool:
    """A pause or a stop that nobody asked for, so the room explains it and offers the way on."""
    return bool(reason) and status in ("paused", "stopped") and reason not in USER_REASONS


Retention = Literal["none", "session", "permanent"]
RETENTIONS: tuple[Retention, ...] = ("none", "session", "permanent")

# How each kind of prompt the engine and the chair send begins. The scripted model answers by
# these, so a wording change here changes both sides at once.
SUMMARISER_OPENING = "You summarise discussions."
CHAIR_OPENING = "You chair the panel and write its decision memo."
SEAT_OPENING = "Speak only as"
