from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from thinktank.orchestration import text

vectors = st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0.1, 5.0), max_size=6)


@given(a=vectors, b=vectors)
def test_cosine_with_norms_given_is_the_same_number(a: text.Vector, b: text.Vector) -> None:
    assert text.cosine(a, b, norm_a=text.norm(a), norm_b=text.norm(b)) == text.cosine(a, b)


@given(vs=st.lists(vectors, max_size=4), weights=st.lists(st.floats(0.1, 1.0), min_size=4, max_size=4))
def test_weighted_sum_is_the_combination_of_scaled_copies(
    vs: list[text.Vector], weights: list[float]
) -> None:
    scaled = ({t: w * x for t, x in v.items()} for v, w in zip(vs, weights, strict=False))
    assert text.weighted_sum(vs, weights) == text.combine(scaled)


def test_cosine_of_disjoint_or_empty_vectors_is_zero() -> None:
    assert text.cosine({"a": 1.0}, {"b": 1.0}) == 0.0
    assert text.cosine({}, {"b": 1.0}, norm_b=1.0) == 0.0


@given(vs=st.lists(vectors, max_size=4), weights=st.lists(st.floats(0.1, 1.0), min_size=4, max_size=4))
def test_sums_and_norm_add_in_the_plain_loops_order(vs: list[text.Vector], weights: list[float]) -> None:
    # Bit for bit, key order included: a seeded conversation's choices depend on the last bit.
    total: dict[str, float] = {}
    weighted: dict[str, float] = {}
    for v, weight in zip(vs, weights, strict=False):
        for term, value in v.items():
            total[term] = total.get(term, 0.0) + value
            weighted[term] = weighted.get(term, 0.0) + weight * value
    combined = text.combine(vs)
    assert list(combined.items()) == list(total.items())
    assert list(text.weighted_sum(vs, weights).items()) == list(weighted.items())
    assert text.norm(combined) == math.sqrt(sum(value * value for value in total.values()))
