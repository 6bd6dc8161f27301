"""The conversation service: exactly one runner per conversation, even when requests race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from thinktank.conversations import ConversationService
from thinktank.domain import Message
from thinktank.engine.setup import ConversationSpec
from thinktank.errors import ConversationBusy
from thinktank.events.log import EventBus
from thinktank.library.loader import load_library
from thinktank.models.ids import SCRIPTED
from thinktank.models.keys import ProviderKeys
from thinktank.models.stack import ModelFactory
from thinktank.store import repository as repo
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import scoped


async def test_racing_requests_start_one_runner_and_never_two_turns_at_once(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await db.upgrade()
    service = ConversationService(
        db=db, library=load_library(), factory=ModelFactory(keys=ProviderKeys()), bus=EventBus()
    )
    await service.start()
    try:
        spec = ConversationSpec(
            template_id="security-review", model_override=SCRIPTED, turn_delay=0.0, max_messages=8
        )
        row = await service.create(user_id=LOCAL_USER_ID, spec=spec)
        live = await service._live(user_id=LOCAL_USER_ID, conversation_id=row.id)
        in_flight = max_in_flight = 0
        original = live.engine._speak

        async def counting(turn, held):
            nonlocal in_flight, max_in_flight
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            try:
                return await original(turn, held)
            finally:
                in_flight -= 1

        live.engine._speak = counting  # type: ignore[method-assign]
        await asyncio.gather(
            *[
                service.set_run_mode(user_id=LOCAL_USER_ID, conversation_id=row.id, mode="auto")
                for _ in range(5)
            ]
        )
        runners = [t for t in asyncio.all_tasks() if t.get_name() == f"auto:{row.id}"]
        assert len(runners) == 1
        await asyncio.wait_for(runners[0], timeout=30)
        assert max_in_flight == 1
        assert live.engine.persona_message_count() == 8
    finally:
        await service.close()
        await db.dispose()


async def test_stored_messages_keep_their_timings(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await db.upgrade()
    service = ConversationService(
        db=db, library=load_library(), factory=ModelFactory(keys=ProviderKeys()), bus=EventBus()
    )
    await service.start()
    try:
        spec = ConversationSpec(template_id="security-review", model_override=SCRIPTED, max_messages=3)
        row = await service.create(user_id=LOCAL_USER_ID, spec=spec)
        said = await service.take_turn(
            user_id=LOCAL_USER_ID, conversation_id=row.id, speaker=None, idempotency_key=None
        )
        assert said is not None
        assert said.latency_s is not None
        stored = await service.messages_page(
            user_id=LOCAL_USER_ID, conversation_id=row.id, after=0, before=None, limit=5
        )
        assert stored[0].latency_s == said.latency_s
        assert stored[0].time_to_first_token_s == said.time_to_first_token_s
    finally:
        await service.close()
        await db.dispose()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ConversationService]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    await db.upgrade()
    service = ConversationService(
        db=db, library=load_library(), factory=ModelFactory(keys=ProviderKeys()), bus=EventBus()
    )
    await service.start()
    yield service
    await service.close()
    await db.dispose()


async def test_one_idempotency_key_sent_ten_times_at_once_takes_one_turn(
    service: ConversationService,
) -> None:
    """Each request gets the one turn's message or ConversationBusy (409), never a KeyError (500)."""
    spec = ConversationSpec(template_id="security-review", model_override=SCRIPTED, max_messages=5)
    row = await service.create(user_id=LOCAL_USER_ID, spec=spec)
    results = await asyncio.gather(
        *[
            service.take_turn(
                user_id=LOCAL_USER_ID, conversation_id=row.id, speaker=None, idempotency_key="same"
            )
            for _ in range(10)
        ],
        return_exceptions=True,
    )
    messages = [r for r in results if isinstance(r, Message)]
    others = [r for r in results if not isinstance(r, Message)]
    assert all(isinstance(r, ConversationBusy) for r in others), others
    assert messages
    assert {m.index for m in messages} == {1}
    live = await service._live(user_id=LOCAL_USER_ID, conversation_id=row.id)
    assert live.engine.persona_message_count() == 1
    again = await service.take_turn(
        user_id=LOCAL_USER_ID, conversation_id=row.id, speaker=None, idempotency_key="same"
    )
    assert again == messages[0]


async def test_idle_conversations_leave_memory_and_come_back_whole(service: ConversationService) -> None:
    spec = ConversationSpec(template_id="security-review", model_override=SCRIPTED, max_messages=5)
    idle = await service.create(user_id=LOCAL_USER_ID, spec=spec)
    used = await service.create(user_id=LOCAL_USER_ID, spec=spec)
    said = await service.take_turn(
        user_id=LOCAL_USER_ID, conversation_id=idle.id, speaker=None, idempotency_key=None
    )
    (await service._live(user_id=LOCAL_USER_ID, conversation_id=idle.id)).used_at -= 3600
    assert service.unload_idle(idle_seconds=600) == 1
    assert set(service._parts.registry.ids()) == {used.id}
    back = await service._live(user_id=LOCAL_USER_ID, conversation_id=idle.id)
    assert said is not None
    assert (back.engine.messages[-1].index, back.engine.messages[-1].text) == (said.index, said.text)


async def test_a_command_beside_a_running_server_leaves_its_conversations_running(tmp_path: Path) -> None:
    """The CLI builds the whole service, but its start must not do the server's crash recovery: a
    conversation the server is running stays running, and the server's own start still pauses it."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await db.upgrade()

    def service() -> ConversationService:
        return ConversationService(
            db=db, library=load_library(), factory=ModelFactory(keys=ProviderKeys()), bus=EventBus()
        )

    async def status_of(conversation_id: str) -> str:
        with scoped(LOCAL_USER_ID):
            async with db.session() as session:
                found = await repo.get_conversation(
                    session, user_id=LOCAL_USER_ID, conversation_id=conversation_id
                )
                return found.status

    server = service()
    await server.start()
    try:
        spec = ConversationSpec(template_id="security-review", model_override=SCRIPTED, max_messages=200)
        row = await server.create(user_id=LOCAL_USER_ID, spec=spec)
        await server.set_run_mode(user_id=LOCAL_USER_ID, conversation_id=row.id, mode="auto")
        deadline = asyncio.get_running_loop().time() + 10
        while await status_of(row.id) != "running":  # its state reaches the database by group commit
            assert asyncio.get_running_loop().time() < deadline, "auto mode never ran"
            await asyncio.sleep(0.02)
        command = service()
        await command.start(recover=False)
        await command.close()
        assert await status_of(row.id) == "running"
        restarted = service()
        await restarted.start()
        await restarted.close()
        assert await status_of(row.id) == "paused"
    finally:
        await server.close()
        await db.dispose()
