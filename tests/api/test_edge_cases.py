"""Bad input and odd corners found by fuzzing: each answers a clear 4xx, never a 500, and what the
API says matches what it documents."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import Account, start
from thinktank.settings import Settings
from thinktank.store.db import Database


def test_duplicating_a_persona_under_a_bad_id_is_a_400(client: TestClient) -> None:
    answer = client.post("/api/v1/personas/cfo/duplicate", params={"new_id": "Bad Id"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith("new_id:")


def test_huge_integers_are_refused_as_invalid(client: TestClient) -> None:
    cid = start(client)
    for cursor in ("before", "after"):
        answer = client.get(f"/api/v1/conversations/{cid}/messages", params={cursor: 10**30})
        assert answer.status_code == 422, answer.text
    batch = {"topics": ["a"], "templates": ["security-review"], "max_cost": "1", "seed": 10**30}
    assert client.post("/api/v1/batches", json=batch).status_code == 422


def test_sign_out_answers_204_with_no_body(client: TestClient) -> None:
    answer = client.post("/api/v1/auth/sign-out")
    assert answer.status_code == 204
    assert answer.content == b""


def test_after_deleting_the_local_account_everything_works_at_once(client: TestClient) -> None:
    start(client)
    assert client.delete("/api/v1/account").status_code == 204
    preferences = {"data_retention": "permanent", "delete_after_days": None, "allow_analytics": False}
    assert client.put("/api/v1/preferences", json=preferences).status_code == 200
    persona = client.get("/api/v1/personas/cfo").json()["persona"]
    persona["id"] = "my-cfo"
    assert client.post("/api/v1/personas", json=persona).status_code == 201
    assert client.get("/api/v1/conversations").json()["items"] == []
    start(client)


def test_reads_give_the_same_utc_times_as_creates(client: TestClient) -> None:
    created = client.post(
        "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted"}
    ).json()
    read = client.get(f"/api/v1/conversations/{created['id']}").json()
    assert read["created_at"] == created["created_at"]
    assert read["created_at"].endswith("Z")
    listed = client.get("/api/v1/conversations").json()["items"][0]
    assert listed["updated_at"].endswith("Z")


def test_a_wrong_method_says_which_are_allowed(client: TestClient) -> None:
    answer = client.put("/api/v1/conversations")
    assert answer.status_code == 405
    assert "POST" in answer.headers["allow"]


def test_errors_and_the_markdown_export_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    export = paths["/api/v1/conversations/{conversation_id}/export"]["get"]["responses"]
    assert "text/markdown" in export["200"]["content"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status in ("400", "401", "404", "422"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_search_treats_like_wildcards_as_letters(client: TestClient) -> None:
    client.post(
        "/api/v1/conversations",
        json={"topic": "Are we 100% sure?", "persona_ids": ["cfo"], "model": "scripted"},
    )
    client.post(
        "/api/v1/conversations", json={"topic": "Something else", "persona_ids": ["cfo"], "model": "scripted"}
    )
    found = client.get("/api/v1/conversations", params={"search": "%"}).json()["items"]
    assert [c["topic"] for c in found] == ["Are we 100% sure?"]
    assert client.get("/api/v1/conversations", params={"search": "_"}).json()["items"] == []


def test_the_data_directory_and_database_are_the_owners_alone(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data_dir = Settings(data_dir=tmp_path / "data").resolved_data_dir()
        Database(f"sqlite+aiosqlite:///{data_dir / 'thinktank.db'}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "thinktank.db").stat().st_mode) == 0o600


def test_users_of_a_signed_in_server_cannot_name_server_paths_as_models(
    accounts: tuple[TestClient, Account, Account],
) -> None:
    client, ada, _ = accounts
    persona = client.get("/api/v1/personas/cfo", headers=ada.headers).json()["persona"]
    persona.update(id="path-cfo", model="local:/etc/hostname")
    answer = client.post("/api/v1/personas", json=persona, headers=ada.headers)
    assert answer.status_code == 400, answer.text
    assert "local:/etc/hostname is not one of them" in answer.json()["error"]["message"]
    persona.update(model="local:smollm2", fallbacks=["local:~/secret.gguf"])
    assert client.post("/api/v1/personas", json=persona, headers=ada.headers).status_code == 400
    started = client.post(
        "/api/v1/conversations",
        json={"topic": "x", "persona_ids": ["cfo"], "model": "local:/etc/hostname"},
        headers=ada.headers,
    )
    assert started.status_code == 400
    assert client.get("/api/v1/personas/path-cfo", headers=ada.headers).status_code == 404
