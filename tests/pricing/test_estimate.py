from __future__ import annotations

from decimal import Decimal

from thinktank.library.loader import load_library
from thinktank.models.ids import LOCAL_DEFAULT
from thinktank.pricing.estimate import estimate_conversation_cost
from thinktank.pricing.prices import Pricer


def test_template_estimate_is_computed_from_prices_and_grows_with_length() -> None:
    library = load_library()
    template = library.template("startup-product-planning")
    personas = library.template_personas(template)
    pricer = Pricer()
    short = estimate_conversation_cost(personas, 4, pricer=pricer)
    full = estimate_conversation_cost(personas, template.estimated_messages, pricer=pricer)
    assert short.raw is not None
    assert full.raw is not None
    assert Decimal(0) < short.raw < full.raw
    assert full.billed == full.raw * Decimal("1.2")
    # Cheaper prices give a cheaper estimate: the figure follows the price data, it is not typed in.
    cheaper = Pricer(markup=Decimal(1))
    assert estimate_conversation_cost(personas, 20, pricer=cheaper).billed == full.raw


def test_local_model_estimate_is_free() -> None:
    library = load_library()
    personas = library.template_personas(library.template("security-review"))
    cost = estimate_conversation_cost(personas, 15, pricer=Pricer(), model_override=LOCAL_DEFAULT)
    assert cost.raw == 0


def test_the_models_that_will_answer_can_be_priced_instead() -> None:
    from thinktank.library.loader import load_library
    from thinktank.models.ids import LOCAL_DEFAULT
    from thinktank.pricing.estimate import estimate_conversation_cost
    from thinktank.pricing.prices import Pricer

    personas = [load_library().persona("cfo"), load_library().persona("ux-designer")]
    wanted = estimate_conversation_cost(personas, 10, pricer=Pricer(), topic="Pricing")
    local = estimate_conversation_cost(
        personas, 10, pricer=Pricer(), topic="Pricing", model_for=lambda p: LOCAL_DEFAULT
    )
    assert wanted.billed is not None
    assert wanted.billed > 0
    assert local.billed == 0
