"""Did-you-mean suggestions for an unknown id, name or category."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(wanted: str, known: Iterable[str], *, limit: int = 3) -> list[str]:
    """Up to `limit` of `known` that look like `wanted`: close spellings first, else names that
    contain it (case-insensitive)."""
    names = list(known)
    found = difflib.get_close_matches(wanted, names, n=limit, cutoff=0.5)
    if not found:
        found = [n for n in names if wanted.lower() in n.lower()][:limit]
    return found
