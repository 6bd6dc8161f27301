"""Cheap text similarity for the heuristic scorer: bags of crudely stemmed words, cosine."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections import Counter
from collections.abc import Iterable
from itertools import repeat

_WORD = re.compile(r"[a-z][a-z0-9'-]+")
_STOP = frozenset(
    (
        "a about after again all also am an and any are as at be because been before being but by "
        "can could did do does doing for from had has have having he her here him his how i if in "
        "into is it its just let like me more most my no not now of on one only or other our out "
        "over own same she should so some such than that the their them then there these they this "
        "those through to too under until up very was we were what when where which while who whom "
        "why will with would you your yours think need want make going get really thing things "
        "maybe yes well let's it's i'm we're don't can't "
    ).split()
)
_SUFFIXES = (
    "ations",
    "ation",
    "ities",
    "ity",
    "ments",
    "ment",
    "ness",
    "ings",
    "ing",
    "ers",
    "er",
    "ies",
    "es",
    "s",
    "ed",
    "ly",
)

Vector = dict[str, float]
_ZEROS = repeat(0.0)
"""The default of every missing term (`map` stops at the shorter input, so one endless supply serves all)."""


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    return [stem(w.strip("'-")) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2]


def vector(text: str, *, weight: float = 1.0) -> Vector:
    base = _unit_vector(text)
    return base if weight == 1.0 else {term: weight * value for term, value in base.items()}


@functools.lru_cache(maxsize=8192)
def _unit_vector(text: str) -> Vector:
    # Cached: the same recent messages are scored again on every turn, in every conversation running
    # at once (a thousand of them keep several thousand texts warm). Callers must not mutate it.
    counts = Counter(terms(text))
    return {term: 1.0 + math.log(count) for term, count in counts.items()}


# The loops below run in C where they can (dict copies, `map`), yet add the same numbers in the same
# order as the plain loops would: the scorer's results, and so a seeded conversation's choices, stay
# identical to the last bit. Starting a sum at 0.0 changes nothing either, as every value is positive.


def combine(vectors: Iterable[Vector]) -> Vector:
    total: dict[str, float] = {}
    for v in vectors:
        if not total:
            total = dict(v)
            continue
        for term, value in v.items():
            total[term] = total.get(term, 0.0) + value
    return total


def norm(v: Vector) -> float:
    values = v.values()
    return math.sqrt(sum(map(operator.mul, values, values)))


def weighted_sum(vectors: Iterable[Vector], weights: Iterable[float]) -> Vector:
    """`combine` of each vector scaled by its weight, without building the scaled copies."""
    total: dict[str, float] = {}
    for v, weight in zip(vectors, weights, strict=False):
        if not total:
            total = {term: weight * value for term, value in v.items()}
            continue
        for term, value in v.items():
            total[term] = total.get(term, 0.0) + weight * value
    return total


def cosine(a: Vector, b: Vector, *, norm_a: float | None = None, norm_b: float | None = None) -> float:
    """`norm_a` and `norm_b`, when given, must be `norm(a)` and `norm(b)`: a caller scoring one vector
    against several passes its norm once instead of having it summed again each time."""
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b, norm_a, norm_b = b, a, norm_b, norm_a
    dot: float = sum(map(operator.mul, a.values(), map(b.get, a, _ZEROS)))
    if dot == 0.0:
        return 0.0
    first = norm(a) if norm_a is None else norm_a
    second = norm(b) if norm_b is None else norm_b
    return dot / (first * second)
