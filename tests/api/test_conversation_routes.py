from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from tests.api.conftest import start
from tests.watch import watch
from thinktank.settings import Settings
from thinktank.store.repository import LOCAL_USER_ID


def wait_for(
    client: TestClient, conversation_id: str, status: str, timeout: float = 20.0
) -> dict[str, object]:
    """The conversation once it has `status`: now, or after the state change that brings it."""
    with watch(client, conversation_id) as events:
        body: dict[str, object] = client.get(f"/api/v1/conversations/{conversation_id}").json()
        if body["status"] != status:
            events.until(lambda e: e["type"] == "state.changed" and e["status"] == status, within=timeout)
            body = client.get(f"/api/v1/conversations/{conversation_id}").json()
    assert body["status"] == status, body
    return body


def runner_ended(client: TestClient, conversation_id: str, timeout: float = 10.0) -> bool:
    """Whether the conversation's auto-mode runner (if it had one) is over within `timeout`."""
    service = client.app.state.service  # type: ignore[attr-defined]

    async def ended() -> bool:
        live = await service._live(user_id=LOCAL_USER_ID, conversation_id=conversation_id)
        if live.runner is not None:
            await asyncio.wait({live.runner}, timeout=timeout)
        return live.runner is None or live.runner.done()

    assert client.portal is not None
    return client.portal.call(ended)


def test_create_from_a_template_and_from_topic_and_personas(client: TestClient) -> None:
    created = client.post(
        "/api/v1/conversations",
        json={"template_id": "security-review", "model": "scripted", "max_messages": 4},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["mode"] == "refinement"
    assert [m["persona_id"] for m in body["members"]] == [
        "security-expert",
        "senior-engineer",
        "devops-engineer",
    ]
    custom = client.post(
        "/api/v1/conversations",
        json={
            "topic": "Lease or buy our servers?",
            "persona_ids": ["cfo", "devops-engineer"],
            "mode": "debate",
            "scorer": "heuristic",
            "speed": 7,
            "max_cost": "0.50",
            "model": "scripted",
        },
    ).json()
    assert (custom["mode"], custom["speed"], custom["max_cost"]) == ("debate", 7, "0.50")


def test_bad_requests_get_one_error_body(client: TestClient) -> None:
    no_topic = client.post("/api/v1/conversations", json={"persona_ids": ["cfo"]})
    assert no_topic.status_code == 400
    assert no_topic.json()["error"]["message"] == "give a topic, or start from a template"
    too_long = client.post("/api/v1/conversations", json={"topic": "x" * 2001, "persona_ids": ["cfo"]})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["message"].startswith("topic:")
    unknown = client.post("/api/v1/conversations", json={"topic": "t", "persona_ids": ["cfoo"]})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["details"]["suggestions"] == ["cfo"]
    bad_model = client.post(
        "/api/v1/conversations", json={"topic": "t", "persona_ids": ["cfo"], "model": "gpt4"}
    )
    assert bad_model.status_code == 422
    assert bad_model.json()["error"]["code"] == "invalid_model_id"
    huge = client.post(
        "/api/v1/conversations",
        content=b"{" + b" " * 300_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "too_large"
    assert client.get("/api/v1/conversations/not-a-conversation").status_code == 404


def test_list_newest_first_paginated_and_searchable(client: TestClient) -> None:
    ids = [
        start(client, title=f"Session {i}", topic=f"topic {i} {'billing' if i % 2 else 'hiring'}")
        for i in range(5)
    ]
    first = client.get("/api/v1/conversations", params={"limit": 2}).json()
    second = client.get("/api/v1/conversations", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/api/v1/conversations", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    listed = [c["id"] for page in (first, second, third) for c in page["items"]]
    assert listed == list(reversed(ids))
    assert third["next_cursor"] is None
    billing = client.get("/api/v1/conversations", params={"search": "BILLING"}).json()["items"]
    assert {c["id"] for c in billing} == {ids[1], ids[3]}
    assert client.get("/api/v1/conversations", params={"cursor": "garbage"}).status_code == 400


def test_turns_messages_interjections_and_idempotency(client: TestClient) -> None:
    cid = start(client, max_messages=10)
    chosen = client.post(f"/api/v1/conversations/{cid}/turns", json={"speaker": "devops-engineer"}).json()
    assert chosen["message"]["speaker_id"] == "devops-engineer"
    assert chosen["message"]["decision"]["chosen_by"] == "user"
    first = client.post(f"/api/v1/conversations/{cid}/turns", headers={"Idempotency-Key": "abc"}).json()
    retried = client.post(f"/api/v1/conversations/{cid}/turns", headers={"Idempotency-Key": "abc"}).json()
    assert retried["message"] == first["message"]
    said = client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "What about passkeys?"})
    assert said.status_code == 201
    assert said.json()["kind"] == "user"
    assert client.post(f"/api/v1/conversations/{cid}/messages", json={"text": ""}).status_code == 422
    assert client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "x" * 4001}).status_code == 422
    answer = client.post(f"/api/v1/conversations/{cid}/turns").json()["message"]
    assert answer["index"] == 4
    messages = client.get(f"/api/v1/conversations/{cid}/messages").json()
    assert [m["index"] for m in messages["items"]] == [0, 1, 2, 3, 4]
    assert messages["items"][0]["kind"] == "user"
    newer = client.get(f"/api/v1/conversations/{cid}/messages", params={"after": 2}).json()
    assert [m["index"] for m in newer["items"]] == [3, 4]
    older = client.get(f"/api/v1/conversations/{cid}/messages", params={"before": 3, "limit": 2}).json()
    assert [m["index"] for m in older["items"]] == [1, 2]
    assert older["before"] == 1
    reply = messages["items"][1]
    assert reply["usage"]["input_tokens"] > 0
    assert reply["cost"] == {"raw_usd": "0", "billed_usd": "0"}
    assert reply["model_id"] == "scripted"


def test_members_can_be_added_edited_and_removed(client: TestClient) -> None:
    cid = start(client, max_messages=20)
    assert client.post(f"/api/v1/conversations/{cid}/members", json={"persona_id": "cfo"}).status_code == 204
    assert client.post(f"/api/v1/conversations/{cid}/members", json={"persona_id": "cfo"}).status_code == 400
    members = [m["persona_id"] for m in client.get(f"/api/v1/conversations/{cid}").json()["members"]]
    assert members[-1] == "cfo"
    cfo = client.get("/api/v1/personas/cfo").json()["persona"]
    edited = client.put(f"/api/v1/conversations/{cid}/members/cfo", json={**cfo, "role": "Treasurer"})
    assert edited.status_code == 204
    spoken = client.post(f"/api/v1/conversations/{cid}/turns", json={"speaker": "cfo"}).json()["message"]
    assert spoken["speaker_role"] == "Treasurer"
    assert client.delete(f"/api/v1/conversations/{cid}/members/cfo").status_code == 204
    assert client.post(f"/api/v1/conversations/{cid}/turns", json={"speaker": "cfo"}).status_code == 404
    assert client.post(f"/api/v1/conversations/{cid}/members", json={}).status_code == 400


def test_auto_mode_runs_on_the_server_with_no_client_watching(client: TestClient) -> None:
    cid = start(client, max_messages=5, turn_delay=0)
    assert client.put(f"/api/v1/conversations/{cid}/mode", json={"mode": "auto"}).status_code == 204
    finished = wait_for(client, cid, "finished")
    assert finished["stop_reason"] == "reached 5 messages"
    messages = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    assert sum(1 for m in messages if m["kind"] == "persona") == 5
    assert client.post(f"/api/v1/conversations/{cid}/turns").status_code == 409
    again = client.put(f"/api/v1/conversations/{cid}/mode", json={"mode": "auto"})
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "this conversation has ended (reached 5 messages)"


def test_pause_resume_speed_and_stop(client: TestClient) -> None:
    cid = start(client, max_messages=200)
    assert client.put(f"/api/v1/conversations/{cid}/speed", json={"speed": 10}).status_code == 204
    assert client.put(f"/api/v1/conversations/{cid}/speed", json={"speed": 11}).status_code == 422
    with watch(client, cid) as events:
        client.put(f"/api/v1/conversations/{cid}/mode", json={"mode": "auto"})
        # Pause mid-run, after the panel has spoken.
        events.until(lambda e: e["type"] == "message.completed" and e["message"]["kind"] == "persona")
    assert client.post(f"/api/v1/conversations/{cid}/pause").status_code == 204
    paused = wait_for(client, cid, "paused")
    count = len(client.get(f"/api/v1/conversations/{cid}/messages").json()["items"])
    # Nothing more can happen once the conversation's one runner has ended: wait for that, not a while.
    assert runner_ended(client, cid)
    assert len(client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]) == count
    assert paused["speed"] == 10
    assert client.post(f"/api/v1/conversations/{cid}/resume").status_code == 204
    wait_for(client, cid, "running")
    assert client.post(f"/api/v1/conversations/{cid}/stop").status_code == 204
    wait_for(client, cid, "stopped")
    assert client.post(f"/api/v1/conversations/{cid}/resume").status_code == 409


def test_costs_export_and_delete(client: TestClient) -> None:
    cid = start(client, max_messages=3)
    for _ in range(3):
        client.post(f"/api/v1/conversations/{cid}/turns")
    costs = client.get(f"/api/v1/conversations/{cid}/costs").json()
    assert costs["total"]["requests"] == 3
    assert set(costs["by_provider"]) == {"scripted"}
    assert costs["by_model"]["scripted"]["output_tokens"] > 0
    daily = client.get("/api/v1/costs/daily").json()
    assert daily[-1]["requests"] >= 3
    exported = client.get(f"/api/v1/conversations/{cid}/export").json()
    assert (exported["schema"], exported["version"]) == ("thinktank.transcript", 1)
    assert len(exported["messages"]) == 4
    markdown = client.get(f"/api/v1/conversations/{cid}/export", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## Discussion" in markdown.text
    assert client.delete(f"/api/v1/conversations/{cid}").status_code == 204
    assert client.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert client.get(f"/api/v1/conversations/{cid}/messages").status_code == 404
    assert client.get(f"/api/v1/conversations/{cid}/costs").status_code == 404


def test_openapi_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/conversations/{conversation_id}/turns" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_an_unexpected_failure_is_a_500_without_a_stack_trace(settings: Settings) -> None:
    from thinktank.api.app import create_app

    with TestClient(
        create_app(settings), raise_server_exceptions=False, base_url="http://127.0.0.1"
    ) as unsafe_client:
        cid = start(unsafe_client)

        async def explode(**_: object) -> None:
            raise RuntimeError("secret internals: /etc/passwd")

        unsafe_client.app.state.service.engine = explode  # type: ignore[attr-defined]
        response = unsafe_client.get(f"/api/v1/conversations/{cid}")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "something went wrong on our side", "details": None}
    }
    assert "secret" not in response.text
