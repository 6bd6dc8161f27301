"""Retention preferences, purges, export of everything, and account deletion."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from tests.api.conftest import Account, start
from thinktank.store.tables import Base, Conversation


def count_rows(client: TestClient, table: str, conversation_id: str) -> int:
    service = client.app.state.service  # type: ignore[attr-defined]

    async def run() -> int:
        async with service.db.session() as session:
            return int(
                await session.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE conversation_id = :c"), {"c": conversation_id}
                )
                or 0
            )

    return client.portal.call(run)  # type: ignore[union-attr]


def wait_gone(client: TestClient, cid: str) -> None:
    deadline = time.monotonic() + 10
    while client.get(f"/api/v1/conversations/{cid}").status_code != 404:
        assert time.monotonic() < deadline, "the conversation outlived its session"
        time.sleep(0.05)


def test_preferences_default_to_permanent_without_analytics(client: TestClient) -> None:
    assert client.get("/api/v1/preferences").json() == {
        "data_retention": "permanent",
        "delete_after_days": None,
        "allow_analytics": False,
    }
    bad = client.put("/api/v1/preferences", json={"data_retention": "forever"})
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("data_retention")
    assert (
        client.put(
            "/api/v1/preferences", json={"data_retention": "permanent", "delete_after_days": 0}
        ).status_code
        == 422
    )


def test_retention_none_stores_nothing_of_the_conversation(client: TestClient) -> None:
    client.put("/api/v1/preferences", json={"data_retention": "none"})
    cid = start(client, max_messages=5)
    for _ in range(2):
        assert client.post(f"/api/v1/conversations/{cid}/turns").status_code == 200
    messages = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    assert len(messages) == 3, "the live session shows everything"
    assert count_rows(client, "messages", cid) == 0
    assert count_rows(client, "cost_records", cid) == 0
    client.post(f"/api/v1/conversations/{cid}/stop")
    wait_gone(client, cid)
    assert count_rows(client, "conversation_members", cid) == 0


def test_retention_session_keeps_it_while_it_runs_and_deletes_it_after(client: TestClient) -> None:
    client.put("/api/v1/preferences", json={"data_retention": "session"})
    cid = start(client, max_messages=2)
    client.post(f"/api/v1/conversations/{cid}/turns")
    assert count_rows(client, "messages", cid) == 2
    client.post(f"/api/v1/conversations/{cid}/turns")
    wait_gone(client, cid)
    assert count_rows(client, "messages", cid) == 0
    assert count_rows(client, "cost_records", cid) == 0


def test_delete_after_days_purges_old_conversations_only(client: TestClient) -> None:
    client.put("/api/v1/preferences", json={"data_retention": "permanent", "delete_after_days": 7})
    old, fresh = start(client), start(client)
    client.post(f"/api/v1/conversations/{old}/turns")
    service = client.app.state.service  # type: ignore[attr-defined]

    async def backdate_and_purge() -> int:
        async with service.db.session() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == old)
                .values(created_at=datetime.now(UTC) - timedelta(days=8))
            )
            await session.commit()
        return int(await service.purge())

    assert client.portal.call(backdate_and_purge) == 1  # type: ignore[union-attr]
    assert client.get(f"/api/v1/conversations/{old}").status_code == 404
    assert count_rows(client, "messages", old) == 0
    assert count_rows(client, "cost_records", old) == 0
    assert client.get(f"/api/v1/conversations/{fresh}").status_code == 200


def test_export_everything_i_own(client: TestClient) -> None:
    cid = start(client)
    client.post(f"/api/v1/conversations/{cid}/turns")
    client.post("/api/v1/personas/cfo/duplicate")
    exported = client.get("/api/v1/account/export").json()
    assert (exported["schema"], exported["version"]) == ("thinktank.account-export", 1)
    assert [c["id"] for c in exported["conversations"]] == [cid]
    assert len(exported["conversations"][0]["messages"]) == 2
    assert [p["id"] for p in exported["personas"]] == ["cfo-copy"]
    assert exported["preferences"]["data_retention"] == "permanent"


def test_deleting_my_account_removes_every_row_i_own_and_nothing_else(
    accounts: tuple[TestClient, Account, Account],
) -> None:
    client, ada, bob = accounts
    service = client.app.state.service  # type: ignore[attr-defined]
    ada_id = client.get("/api/v1/account/export", headers=ada.headers).json()["user"]["id"]
    assert client.delete("/api/v1/account", headers=ada.headers).status_code == 204

    async def rows_of(user_id: str) -> dict[str, int]:
        counts = {}
        async with service.db.session() as session:
            for table in Base.metadata.sorted_tables:
                column = table.c.get("user_id") if table.name != "users" else table.c.id
                if column is not None:
                    counts[table.name] = int(
                        await session.scalar(select(func.count()).where(column == user_id)) or 0
                    )
        return counts

    assert set(client.portal.call(rows_of, ada_id).values()) == {0}  # type: ignore[union-attr]
    bob_id = client.get("/api/v1/account/export", headers=bob.headers).json()["user"]["id"]
    assert client.portal.call(rows_of, bob_id)["messages"] == 3  # type: ignore[union-attr]
    assert client.get("/api/v1/conversations", headers=ada.headers).status_code == 401, "her tokens went too"
