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

Retention = Literal["none", "session", "permanent"]
RETENTIONS: tuple[Retention, ...] = ("none", "session", "permanent")

# How each kind of prompt the engine and the chair send begins. The scripted model answers by
# these, so a wording change here changes both sides at once.
SUMMARISER_OPENING = "You summarise discussions."
CHAIR_OPENING = "You chair the panel and write its decision memo."
SEAT_OPENING = "Speak only as"
