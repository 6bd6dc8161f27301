"""Forks: a branch shares its parent's transcript up to a message, stored once, then goes its own way."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.conftest import start


def own_rows(client: TestClient, conversation_id: str) -> int:
    service = client.app.state.service  # type: ignore[attr-defined]

    async def count() -> int:
        async with service.db.session() as session:
            result = await session.scalar(
                text("SELECT count(*) FROM messages WHERE conversation_id = :c"), {"c": conversation_id}
            )
            return int(result or 0)

    return client.portal.call(count)  # type: ignore[union-attr]


def texts(client: TestClient, conversation_id: str) -> list[tuple[int, str]]:
    items = client.get(f"/api/v1/conversations/{conversation_id}/messages", params={"limit": 500}).json()[
        "items"
    ]
    return [(m["index"], m["text"]) for m in items]


def test_a_fork_shares_the_prefix_without_copying_and_then_diverges(client: TestClient) -> None:
    parent = start(client, max_messages=20)
    for _ in range(4):
        client.post(f"/api/v1/conversations/{parent}/turns")
    before = texts(client, parent)
    forked = client.post(
        f"/api/v1/conversations/{parent}/fork",
        json={"at_index": 2, "persona_ids": ["cfo", "end-user"], "mode": "debate", "model": "scripted:other"},
    )
    assert forked.status_code == 201, forked.text
    fork = forked.json()
    assert (fork["forked_from"], fork["forked_at"], fork["mode"]) == (parent, 2, "debate")
    assert [m["persona_id"] for m in fork["members"]] == ["cfo", "end-user"]
    assert texts(client, fork["id"]) == before[:3], "the shared prefix is the parent's"
    assert own_rows(client, fork["id"]) == 0, "stored once, not copied"
    reply = client.post(f"/api/v1/conversations/{fork['id']}/turns").json()["message"]
    assert reply["index"] == 3
    assert reply["speaker_id"] in ("cfo", "end-user")
    assert reply["model_id"] == "scripted:other"
    assert own_rows(client, fork["id"]) == 1
    assert texts(client, parent) == before, "the parent is untouched"
    older = client.get(
        f"/api/v1/conversations/{fork['id']}/messages", params={"before": 3, "limit": 2}
    ).json()
    assert [m["index"] for m in older["items"]] == [1, 2]

    grandchild = client.post(f"/api/v1/conversations/{fork['id']}/fork", json={"at_index": 3}).json()
    assert texts(client, grandchild["id"]) == texts(client, fork["id"])[:4]
    sibling = client.post(f"/api/v1/conversations/{parent}/fork", json={"at_index": 0, "seed": 99}).json()
    tree = client.get(f"/api/v1/conversations/{grandchild['id']}/forks").json()
    assert tree["id"] == parent
    assert [(c["id"], c["forked_at"]) for c in tree["children"]] == [(fork["id"], 2), (sibling["id"], 0)]
    assert tree["children"][0]["children"][0]["id"] == grandchild["id"]

    exported = client.get(f"/api/v1/conversations/{grandchild['id']}/export").json()
    assert [m["index"] for m in exported["messages"]] == [0, 1, 2, 3]


def test_bad_forks_are_refused_and_deleting_a_parent_takes_its_forks(client: TestClient) -> None:
    parent = start(client)
    client.post(f"/api/v1/conversations/{parent}/turns")
    assert client.post(f"/api/v1/conversations/{parent}/fork", json={"at_index": 5}).status_code == 400
    assert (
        client.post(f"/api/v1/conversations/{parent}/fork", json={"at_index": 0, "mode": "rant"}).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/conversations/{parent}/fork", json={"at_index": 0, "persona_ids": ["nobody"]}
        ).status_code
        == 404
    )
    fork = client.post(f"/api/v1/conversations/{parent}/fork", json={"at_index": 1}).json()["id"]
    assert client.delete(f"/api/v1/conversations/{parent}").status_code == 204
    assert client.get(f"/api/v1/conversations/{fork}").status_code == 404
