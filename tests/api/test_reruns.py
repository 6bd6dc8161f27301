"""What-if reruns: the same setup with one thing changed, compared side by side."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.conftest import start


def run_to_end(client: TestClient, conversation_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/conversations/{conversation_id}").json()["status"] != "finished":
        assert time.monotonic() < deadline, "the rerun never finished"
        time.sleep(0.05)


def test_a_rerun_with_another_seed_runs_by_itself_and_compares_side_by_side(client: TestClient) -> None:
    original = start(client, max_messages=4, turn_delay=0)
    client.put(f"/api/v1/conversations/{original}/mode", json={"mode": "auto"})
    run_to_end(client, original)
    rerun = client.post(f"/api/v1/conversations/{original}/rerun", json={"seed": 12345})
    assert rerun.status_code == 202, rerun.text
    rerun_id = rerun.json()["id"]
    assert rerun.json()["seed"] == 12345
    run_to_end(client, rerun_id)
    compared = client.get(f"/api/v1/conversations/{original}/compare/{rerun_id}").json()
    first, second = compared["first"], compared["second"]
    assert (first["seed"], second["seed"]) == (1, 12345)
    assert second["change"] == "seed: 12345"
    assert first["messages"] == second["messages"] == 4
    for side in (first, second):
        assert side["memo"]["memo"]["recommendation"]["cites"]
        assert side["totals"]["requests"] >= 4
    assert first["models"] == second["models"]


def test_a_rerun_with_one_persona_on_another_model(client: TestClient) -> None:
    original = start(client, max_messages=3, turn_delay=0)
    client.put(f"/api/v1/conversations/{original}/mode", json={"mode": "auto"})
    run_to_end(client, original)
    rerun = client.post(
        f"/api/v1/conversations/{original}/rerun",
        json={"persona_models": {"security-expert": "scripted:sharp"}},
    ).json()
    run_to_end(client, rerun["id"])
    compared = client.get(f"/api/v1/conversations/{original}/compare/{rerun['id']}").json()
    assert compared["first"]["models"]["security-expert"] == ["scripted"]
    assert compared["second"]["models"]["security-expert"] == ["scripted:sharp"]
    assert compared["second"]["models"]["senior-engineer"] == ["scripted"], "everyone else keeps their model"


def test_a_rerun_changes_exactly_one_thing(client: TestClient) -> None:
    original = start(client)
    assert client.post(f"/api/v1/conversations/{original}/rerun", json={}).status_code == 400
    both = client.post(f"/api/v1/conversations/{original}/rerun", json={"seed": 1, "scorer": "llm"})
    assert both.status_code == 400
    assert "exactly one thing" in both.json()["error"]["message"]
    unknown = client.post(
        f"/api/v1/conversations/{original}/rerun", json={"persona_models": {"cfo": "scripted"}}
    )
    assert unknown.status_code == 404
