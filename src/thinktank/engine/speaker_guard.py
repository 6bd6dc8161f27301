"""Cut a reply where the model starts speaking for someone else ("\\nMichael Kim: ...").

Deltas pass through as soon as they cannot be the start of such a line; text after a line break
is held back until it is clearly not another speaker's label. A reply that opens with the
persona's own label ("Alex Chen: ...") has that label dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HOLD_LIMIT = 60


class SpeakerGuard:
    def __init__(self, *, own_name: str, other_names: Iterable[str]) -> None:
        names = sorted({n for n in other_names if n} | {"You", "User"}, key=len, reverse=True)
        label = "|".join(re.escape(n) for n in names)
        self._other = re.compile(rf"\n\s*(?:\*\*)?\[?(?:{label})\]?(?:\*\*)?\s*(?:\([^)\n]*\))?\s*:")
        self._own = re.compile(
            rf"^\s*(?:\*\*)?\[?{re.escape(own_name)}\]?(?:\*\*)?\s*(?:\([^)\n]*\))?\s*:\s*"
        )
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
            self._strip_own_label()
        # A leading newline lets a label at the very start count as a line of its own.
        match = self._other.search("\n" + self._text, max(self._emitted, 0))
        if match:
            self.cut = True
            self._text = self._text[: max(match.start() - 1, 0)].rstrip()
            return self._release(len(self._text))
        hold_from = self._text.rfind("\n")
        if hold_from >= self._emitted and len(self._text) - hold_from < _HOLD_LIMIT:
            return self._release(hold_from)
        return self._release(len(self._text))

    def finish(self) -> str:
        """The end of the stream: release whatever was held back."""
        if not self._start_checked:
            self._strip_own_label()
        if not self.cut:
            self._text = self._text.rstrip()
        return self._release(len(self._text))

    def _strip_own_label(self) -> None:
        self._start_checked = True
        self._text = self._own.sub("", self._text, count=1)

    def _release(self, upto: int) -> str:
        upto = max(upto, self._emitted)
        released = self._text[self._emitted : upto]
        self._emitted = upto
        return released
