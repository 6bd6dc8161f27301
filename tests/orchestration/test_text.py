from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from thinktank.orchestration import text

vectors = st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0.1, 5.0), max_size=6)


@given(a=vectors, b=vectors)
def test_dot_is_the_sum_over_shared_terms_either_way_round(a: text.Vector, b: text.Vector) -> None:
    plain = sum(value * b[term] for term, value in a.items() if term in b)
    assert math.isclose(text.dot(a, b), plain, rel_tol=1e-12)
    assert math.isclose(text.dot(a, b), text.dot(b, a), rel_tol=1e-12)


@given(v=vectors)
def test_norm_is_the_square_root_of_the_self_dot(v: text.Vector) -> None:
    assert text.norm(v) == math.sqrt(sum(value * value for value in v.values()))
    assert math.isclose(text.norm(v) ** 2, text.dot(v, v), rel_tol=1e-12)


def test_disjoint_or_empty_vectors_have_nothing_in_common() -> None:
    assert text.dot({"a": 1.0}, {"b": 1.0}) == 0.0
    assert text.dot({}, {"b": 1.0}) == 0.0


def test_terms_drop_stop_words_and_stem_suffixes() -> None:
    assert text.terms("We think the pricing of integrations matters") == ["pric", "integr", "matt"]
    assert text.vector("pricing pricing") == {"pric": 1.0 + math.log(2)}
    assert text.vector("pricing", weight=0.5) == {"pric": 0.5}
