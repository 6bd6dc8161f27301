from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from thinktank.models.ids import parse_model_id
from thinktank.pricing.prices import FREE, UNKNOWN_COST, Cost, Pricer


def test_known_model_gets_raw_and_billed_cost_as_decimal() -> None:
    cost = Pricer().price(
        parse_model_id("openai:gpt-4.1-mini"), input_tokens=1_000_000, output_tokens=1_000_000
    )
    assert isinstance(cost.raw, Decimal)
    assert cost.raw == Decimal("0.4") + Decimal("1.6")
    assert cost.billed == cost.raw * Decimal("1.2")


def test_markup_is_configurable_but_never_below_cost() -> None:
    cost = Pricer(markup=Decimal("1.5")).price(
        parse_model_id("openai:gpt-4.1-mini"), input_tokens=1000, output_tokens=0
    )
    assert cost.raw is not None
    assert cost.billed == cost.raw * Decimal("1.5")
    with pytest.raises(ValueError, match="at least 1"):
        Pricer(markup=Decimal("0.9"))


@pytest.mark.parametrize("model", ["local:smollm2", "scripted", "local:/x/y.gguf"])
def test_local_and_scripted_cost_nothing(model: str) -> None:
    assert Pricer().price(parse_model_id(model), input_tokens=10**6, output_tokens=10**6) == FREE


def test_unknown_price_is_recorded_as_unknown_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    pricer = Pricer()
    model = parse_model_id("openai-compatible:my-own-finetune")
    with caplog.at_level(logging.WARNING):
        assert pricer.price(model, input_tokens=10, output_tokens=10) == UNKNOWN_COST
        assert pricer.price(model, input_tokens=10, output_tokens=10) == UNKNOWN_COST
    assert [r.getMessage() for r in caplog.records].count(
        "no known price for openai-compatible:my-own-finetune; its cost is recorded as unknown"
    ) == 1


def test_costs_add_up_and_unknown_is_contagious() -> None:
    a, b = Cost(Decimal("0.1"), Decimal("0.12")), Cost(Decimal("0.2"), Decimal("0.24"))
    assert a + b == Cost(Decimal("0.3"), Decimal("0.36"))
    assert (a + UNKNOWN_COST).known is False
    assert Cost.from_json(a.to_json()) == a
