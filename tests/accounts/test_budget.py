"""Plans and budgets: limits are configuration, checked before each turn and settled after it,
atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fakes import FakeServer
from tests.models.test_providers import KEYS, openai_stream
from tests.services import fresh_postgres_database
from tests.store.test_migrations import upgrade
from thinktank.accounts.budget import UserBudget
from thinktank.accounts.tiers import Tier, Tiers, load_tiers
from thinktank.conversations import ConversationService
from thinktank.domain import Message
from thinktank.engine.setup import ConversationSpec
from thinktank.errors import BudgetExceeded, ConfigurationError, UserError
from thinktank.events.log import EventBus
from thinktank.library.loader import load_library
from thinktank.models.ids import SCRIPTED, parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.stack import ModelFactory
from thinktank.store.db import Database
from thinktank.store.tables import CostRecord, User

USER = "00000000-0000-0000-0000-0000000000aa"
TIERS = Tiers(
    {
        "tight": Tier(name="tight", daily_tokens=6000, concurrent_personas=3),
        "credits": Tier(
            name="credits", monthly_credits_usd=Decimal("0.005"), cost_alert_usd=Decimal("0.002")
        ),
        "watched": Tier(name="watched", model_cost_alert_usd=Decimal("0.002")),
        "free": load_tiers()["free"],
    }
)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'budget.db'}"
        upgrade(url)
        yield url
        return
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


async def make_service(url: str, tier: str, factory: ModelFactory | None = None) -> ConversationService:
    db = Database(url)
    service = ConversationService(
        db=db,
        library=load_library(),
        factory=factory or ModelFactory(keys=ProviderKeys()),
        bus=EventBus(),
        tiers=TIERS,
    )
    await service.start()
    async with db.session() as session:
        session.add(User(id=USER, display_name="Budgeted", tier=tier))
        await session.commit()
    return service


@pytest.fixture
async def tight(database_url: str) -> AsyncIterator[ConversationService]:
    service = await make_service(database_url, "tight")
    yield service
    await service.close()
    await service.db.dispose()


def test_the_shipped_plans_match_the_seed() -> None:
    free = load_tiers()["free"]
    assert (free.daily_tokens, free.monthly_tokens, free.concurrent_personas) == (100_000, 1_000_000, 3)
    assert free.monthly_credits_usd == Decimal("5.00")
    assert load_tiers()["local"].daily_tokens is None


def test_a_broken_plans_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "tiers.yaml"
    path.write_text("free:\n  daily_tokens: lots\n")
    with pytest.raises(ConfigurationError, match=r"free\.daily_tokens"):
        load_tiers(path)


async def test_fifty_concurrent_turns_overshoot_the_daily_cap_by_at_most_one_message(
    tight: ConversationService,
) -> None:
    spec = ConversationSpec(template_id="security-review", model_override=SCRIPTED, max_messages=5)
    rows = [await tight.create(user_id=USER, spec=spec) for _ in range(50)]
    results = await asyncio.gather(
        *[
            tight.take_turn(user_id=USER, conversation_id=r.id, speaker=None, idempotency_key=None)
            for r in rows
        ]
    )
    spoken = [m for m in results if m is not None]
    usage = await (await tight.budget_for(USER)).usage()
    largest = max(m.usage.total_tokens for m in spoken)
    assert 0 < len(spoken) < 50
    assert usage["day"]["tokens_used"] == sum(m.usage.total_tokens for m in spoken)
    assert usage["day"]["tokens_used"] <= 6000 + largest
    refused = [r for r, m in zip(rows, results, strict=True) if m is None]
    live = await tight._live(user_id=USER, conversation_id=refused[0].id)
    assert live.engine.status == "paused"
    assert live.engine.stop_reason == "your daily token limit of 6,000 is reached (tight plan)"
    assert usage["day"]["tokens_left"] == max(6000 - usage["day"]["tokens_used"], 0)


async def test_fifty_concurrent_turns_with_the_llm_scorer_and_memos_stay_within_one_message_of_the_cap(
    tight: ConversationService,
) -> None:
    """The scorer's, the summaries' and the memo chairs' calls are reserved like the speakers':
    whatever runs at once, the counters pass the cap by at most one message."""
    spec = ConversationSpec(
        template_id="security-review", model_override=SCRIPTED, scorer="llm", max_messages=5
    )
    rows = [await tight.create(user_id=USER, spec=spec) for _ in range(50)]

    async def memo(conversation_id: str) -> dict[str, object] | None:
        try:
            return await tight.write_memo(user_id=USER, conversation_id=conversation_id)
        except BudgetExceeded:
            return None

    turns = [
        tight.take_turn(user_id=USER, conversation_id=r.id, speaker=None, idempotency_key=None) for r in rows
    ]
    results = await asyncio.gather(*turns, *[memo(r.id) for r in rows[::5]])
    spoken = [m for m in results[:50] if isinstance(m, Message)]
    usage = await (await tight.budget_for(USER)).usage()
    largest = max((m.usage.total_tokens for m in spoken), default=0)
    assert 0 < len(spoken) < 50
    assert usage["day"]["tokens_used"] <= 6000 + largest
    async with tight.db.session() as session:
        booked = await session.scalar(
            select(func.sum(CostRecord.input_tokens + CostRecord.output_tokens)).where(
                CostRecord.user_id == USER
            )
        )
    assert usage["day"]["tokens_used"] == booked  # every call that ran was counted, nothing else


async def test_a_user_at_the_cap_spends_nothing_more_not_even_on_the_scorer_or_a_memo(
    tight: ConversationService,
) -> None:
    spec = ConversationSpec(
        template_id="security-review", model_override=SCRIPTED, scorer="llm", max_messages=5
    )
    row = await tight.create(user_id=USER, spec=spec)
    await tight.take_turn(user_id=USER, conversation_id=row.id, speaker=None, idempotency_key=None)
    budget = await tight.budget_for(USER)
    left = (await budget.usage())["day"]["tokens_left"]
    await budget.settle(await budget.reserve(tokens=left, cost=Decimal(0)), tokens=left, cost=Decimal(0))
    before = await budget.usage()
    assert (
        await tight.take_turn(user_id=USER, conversation_id=row.id, speaker=None, idempotency_key=None)
        is None
    )
    with pytest.raises(BudgetExceeded, match="daily token limit"):
        await tight.write_memo(user_id=USER, conversation_id=row.id)
    assert await budget.usage() == before
    live = await tight._live(user_id=USER, conversation_id=row.id)
    assert live.engine.status == "paused"  # not ended: it goes on when the budget allows again
    await tight.resume(user_id=USER, conversation_id=row.id)
    assert live.engine.status == "idle"


async def test_no_reservation_is_left_behind(tight: ConversationService) -> None:
    spec = ConversationSpec(template_id="security-review", model_override=SCRIPTED, max_messages=5)
    row = await tight.create(user_id=USER, spec=spec)
    for _ in range(3):
        await tight.take_turn(user_id=USER, conversation_id=row.id, speaker=None, idempotency_key=None)
    from thinktank.store.tables import UsageCounter

    async with tight.db.session() as session:
        held = await session.scalar(select(func.sum(UsageCounter.tokens_reserved)))
    assert held == 0


async def test_a_plan_limits_the_panel_size(tight: ConversationService) -> None:
    spec = ConversationSpec(template_id="startup-product-planning", model_override=SCRIPTED)
    with pytest.raises(UserError, match="tight plan allows 3 personas in a conversation, not 4"):
        await tight.create(user_id=USER, spec=spec)
    row = await tight.create(
        user_id=USER, spec=ConversationSpec(template_id="security-review", model_override=SCRIPTED)
    )
    cfo = await tight.persona(user_id=USER, persona_id="cfo")
    with pytest.raises(UserError, match="allows 3 personas"):
        await tight.add_member(user_id=USER, conversation_id=row.id, persona=cfo)


async def test_monthly_credits_stop_a_priced_conversation_and_alerts_fire(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer().queue(*[openai_stream("A priced reply.") for _ in range(10)])
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    service = await make_service(database_url, "credits", factory)
    try:
        spec = ConversationSpec(
            template_id="security-review",
            model_override=parse_model_id("openai:gpt-4.1-mini"),
            max_messages=10,
        )
        row = await service.create(user_id=USER, spec=spec)
        live = await service._live(user_id=USER, conversation_id=row.id)
        with caplog.at_level(logging.WARNING):
            while live.engine.status not in ("paused", "finished"):
                await service.take_turn(
                    user_id=USER, conversation_id=row.id, speaker=None, idempotency_key=None
                )
        assert live.engine.status == "paused"
        assert "monthly credits of $0.005 are used up" in live.engine.stop_reason
        usage = await (await service.budget_for(USER)).usage()
        # Each reply costs $0.00144 billed: three fit in $0.005, the fourth would not.
        assert live.engine.persona_message_count() == 3
        assert Decimal(usage["month"]["billed_usd"]) == Decimal("0.00432")
        assert usage["alerts"] == ["your spend this month ($0.00432) passed $0.002"]
        assert "cost alert" in caplog.text
    finally:
        await service.close()
        await service.db.dispose()


async def test_the_local_user_has_no_limits_but_sees_usage(database_url: str) -> None:
    db = Database(database_url)
    budget = UserBudget(db, user_id=USER, tier=load_tiers()["local"])
    service = await make_service(database_url, "free")
    try:
        reservation = await budget.reserve(tokens=10**9, cost=Decimal(10**6))
        await budget.settle(reservation, tokens=123, cost=Decimal("0.5"))
        usage = await budget.usage()
        assert usage["day"]["tokens_used"] == 123
        assert usage["day"]["tokens_left"] is None
    finally:
        await service.close()
        await service.db.dispose()
        await db.dispose()


def test_settings_read_a_plans_file(tmp_path: Path) -> None:
    from thinktank.settings import Settings

    path = tmp_path / "plans.yaml"
    path.write_text("local: {}\nstarter:\n  daily_tokens: 500\n")
    settings = Settings.from_env({"THINKTANK_TIERS_FILE": str(path)})
    assert settings.tiers_file == path
    assert load_tiers(settings.tiers_file)["starter"].daily_tokens == 500


async def test_spend_on_one_model_past_its_threshold_is_logged_and_shown(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer().queue(*[openai_stream("A priced reply.") for _ in range(3)])
    service = await make_service(
        database_url, "watched", ModelFactory(keys=KEYS, http_client=server.client())
    )
    try:
        spec = ConversationSpec(
            template_id="security-review",
            model_override=parse_model_id("openai:gpt-4.1-mini"),
            max_messages=3,
        )
        row = await service.create(user_id=USER, spec=spec)
        with caplog.at_level(logging.WARNING):
            await service.take_turn(user_id=USER, conversation_id=row.id, speaker=None, idempotency_key=None)
            await service.ledger.flush()  # unlimited plans write their counters (and alert) within a second
            assert "spend on openai:gpt-4.1-mini" not in caplog.text
            await service.take_turn(user_id=USER, conversation_id=row.id, speaker=None, idempotency_key=None)
            await service.ledger.flush()
        assert "cost alert: a user's spend on openai:gpt-4.1-mini this month passed $0.002" in caplog.text
        usage = await (await service.budget_for(USER)).usage()
        assert usage["alerts"] == ["your spend on openai:gpt-4.1-mini this month ($0.00288) passed $0.002"]
    finally:
        await service.close()
        await service.db.dispose()


async def test_a_restart_releases_reservations_a_crash_left_behind(database_url: str) -> None:
    from thinktank.store.tables import UsageCounter

    service = await make_service(database_url, "tight")
    budget = await service.budget_for(USER)
    await budget.reserve(tokens=5000, cost=Decimal(0))  # a turn that never settles: the process "died"
    await service.close()
    await service.start()
    try:
        async with service.db.session() as session:
            held = list(await session.scalars(select(UsageCounter.tokens_reserved)))
        assert held
        assert set(held) == {0}
        await budget.reserve(tokens=5000, cost=Decimal(0))
    finally:
        await service.close()
        await service.db.dispose()
