"""Cut a reply where the model starts speaking for someone else, or recites its instructions.

A label is another panelist's name at the start of a line, with or without their role, followed by
a colon ("\\nMichael Kim: ...", "\\n**Michael Kim (Product Manager):** ...") or standing alone on
its line ("\\nMichael Kim (Product Manager)\\n..."). Small models also open a reply by restating
their prompt ("You are a Product Manager...", "How to reply:"); such a reply is cut too.

Deltas pass through as soon as they cannot be the start of such a line; text after a line break
is held back until it is clearly not a label. A reply that opens with the persona's own label
("Alex Chen: ...", "Alex Chen (Senior Engineer)\\n...") has that label dropped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_HOLD_LIMIT = 60
_ROLE = r"\([^)\n]*\)"
# Headings and phrases of the system prompt (engine/prompts.py) that no reply should contain.
_PROMPT_LINES = r"(?:\#{1,6}[ \t]*)?(?:How to reply\b|This discussion\s*\n|Speak only as\b)"


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted({w for w in words if w}, key=len, reverse=True))


@functools.lru_cache(maxsize=4096)
def _patterns(
    own_name: str, own_role: str, others: tuple[tuple[str, str], ...]
) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The three patterns for one speaker on one panel. Built once per panel, not per turn: with
    their long alternations they take milliseconds to compile, which a thousand conversations
    turning at once would spend holding the event loop."""
    names = _alternatives([n for n, _ in others] + ["You", "User"])
    roles = _alternatives(r for _, r in others)
    name = rf"(?:\*\*)?\[?(?:{names})\]?(?:\*\*)?"
    # "Name (Role)", "Name — Role", "Name, Role", then optional closing bold.
    titled = rf"{name}[ \t]*(?:{_ROLE}|[,—–-][ \t]*(?:{roles}))?[ \t]*(?:\*\*)?"
    other = re.compile(rf"\n[ \t]*(?:{name}\s*(?:{_ROLE})?\s*(?:\*\*)?\s*:|{titled}(?=\n)|{_PROMPT_LINES})")
    own = re.escape(own_name)
    own_label = re.compile(
        rf"^\s*(?:\*\*)?\[?{own}\]?(?:\*\*)?[ \t]*(?:{_ROLE})?[ \t]*(?:\*\*)?[ \t]*(?::\s*|\n\s*|$)"
    )
    everyone = _alternatives([own_name, own_role or "", *(n for n, _ in others), *(r for _, r in others)])
    restated = re.compile(rf"^\s*You are (?:an? |the )?(?i:{everyone})\b")
    return other, own_label, restated


class SpeakerGuard:
    """Cuts a reply where the model starts speaking for another panelist or recites its instructions."""

    def __init__(
        self,
        *,
        own_name: str,
        others: Iterable[tuple[str, str]],
        own_role: str | None = None,
    ) -> None:
        """`others` are the (name, role) pairs of everyone else on the panel."""
        self._other, self._own, self._restated = _patterns(own_name, own_role or "", tuple(others))
        self._text = ""
        self._emitted = 0
        self._start_checked = False
        self.cut = False

    @property
    def text(self) -> str:
        return self._text[: self._emitted] if self.cut else self._text

    def feed(self, delta: str) -> str:
        """Add a delta; return the part that is safe to show now."""
        if self.cut:
            return ""
        self._text += delta
        if not self._start_checked:
            if len(self._text) < _HOLD_LIMIT and "\n" not in self._text and ":" not in self._text:
                return ""
            self._check_start()
        if self._cut_at_label(self._text):
            return self._release(len(self._text))
        hold_from = self._text.rfind("\n")
        if hold_from >= self._emitted and len(self._text) - hold_from < _HOLD_LIMIT:
            return self._release(hold_from)
        return self._release(len(self._text))

    def finish(self) -> str:
        """The end of the stream: release whatever was held back."""
        if not self.cut:
            if not self._start_checked:
                self._check_start()
            # The end of the reply ends its last line too, so a label standing there is found.
            if not self._cut_at_label(self._text + "\n"):
                self._text = self._text.rstrip()
        return self._release(len(self._text))

    def _cut_at_label(self, text: str) -> bool:
        if self.cut:
            return True
        # Every label begins with a newline: a reply still on the line where the search would start
        # (most chunks of most replies) cannot hold one, and is not copied and searched again.
        if self._emitted > 0 and text.find("\n", self._emitted - 1) == -1:
            return False
        # A leading newline lets a label at the very start count as a line of its own.
        match = self._other.search("\n" + text, self._emitted)
        if match:
            self.cut = True
            self._text = self._text[: max(match.start() - 1, 0)].rstrip()
        return self.cut

    def _check_start(self) -> None:
        self._start_checked = True
        if self._restated.match(self._text):
            self.cut = True
            self._text = ""
            return
        self._text = self._own.sub("", self._text, count=1)

    def _release(self, upto: int) -> str:
        upto = max(upto, self._emitted)
        released = self._text[self._emitted : upto]
        self._emitted = upto
        return released
