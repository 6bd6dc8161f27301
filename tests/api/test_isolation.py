"""Two users with data of every kind: every route, called as the other user, says not found (or
lists nothing of theirs), exactly as for an id that never existed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Account
from thinktank.api.app import create_app
from thinktank.library.loader import load_library
from thinktank.settings import Settings


def test_nothing_of_one_user_reaches_the_other(accounts: tuple[TestClient, Account, Account]) -> None:
    client, ada, bob = accounts
    cid, pid = ada.conversation_id, ada.persona_id
    as_bob = bob.headers
    cfo = load_library().persona("cfo").model_dump(mode="json")
    mine = {**cfo, "id": pid}
    probes = [
        ("GET", f"/api/v1/personas/{pid}", None),
        ("PUT", f"/api/v1/personas/{pid}", mine),
        ("DELETE", f"/api/v1/personas/{pid}", None),
        ("GET", f"/api/v1/conversations/{cid}", None),
        ("DELETE", f"/api/v1/conversations/{cid}", None),
        ("GET", f"/api/v1/conversations/{cid}/export", None),
        ("GET", f"/api/v1/conversations/{cid}/costs", None),
        ("GET", f"/api/v1/conversations/{cid}/events", None),
        ("GET", f"/api/v1/conversations/{cid}/messages", None),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"text": "hello?"}),
        ("POST", f"/api/v1/conversations/{cid}/turns", None),
        ("PUT", f"/api/v1/conversations/{cid}/mode", {"mode": "auto"}),
        ("PUT", f"/api/v1/conversations/{cid}/speed", {"speed": 3}),
        ("POST", f"/api/v1/conversations/{cid}/pause", None),
        ("POST", f"/api/v1/conversations/{cid}/resume", None),
        ("POST", f"/api/v1/conversations/{cid}/stop", None),
        ("POST", f"/api/v1/conversations/{cid}/members", {"persona_id": "end-user"}),
        ("PUT", f"/api/v1/conversations/{cid}/members/cfo", cfo),
        ("DELETE", f"/api/v1/conversations/{cid}/members/cfo", None),
        ("DELETE", f"/api/v1/tokens/{ada.token_id}", None),
        ("POST", f"/api/v1/conversations/{cid}/memo", None),
        ("GET", f"/api/v1/conversations/{cid}/memo", None),
        ("POST", f"/api/v1/conversations/{cid}/fork", {"at_index": 0}),
        ("GET", f"/api/v1/conversations/{cid}/forks", None),
        ("POST", f"/api/v1/conversations/{cid}/rerun", {"seed": 3}),
        ("GET", f"/api/v1/conversations/{cid}/compare/{cid}", None),
    ]

    def elsewhere(text: str) -> str:
        return text.replace(cid, "0" * 36).replace(pid, "no-such-persona").replace(ada.token_id, "0" * 36)

    for method, path, body in probes:
        theirs = client.request(method, path, json=body, headers=as_bob)
        other_body = None if body is None else json.loads(elsewhere(json.dumps(body)))
        nobodys = client.request(method, elsewhere(path), json=other_body, headers=as_bob)
        assert theirs.status_code == 404, (method, path, theirs.text)
        assert nobodys.status_code == 404
        assert theirs.json()["error"]["code"] == nobodys.json()["error"]["code"] == "not_found"
        for secret in ("ada private plans", "Ada Secret", "a private thought", "sk-ada-key"):
            assert secret not in theirs.text

    listed = client.get("/api/v1/conversations", headers=as_bob).json()["items"]
    assert [c["id"] for c in listed] == [bob.conversation_id]
    assert client.get("/api/v1/conversations", params={"search": "ada"}, headers=as_bob).json()["items"] == []
    personas = [
        p["persona"]["id"]
        for p in client.get("/api/v1/personas", headers=as_bob).json()
        if p["source"] == "mine"
    ]
    assert personas == [bob.persona_id]
    assert [k["last4"] for k in client.get("/api/v1/keys", headers=as_bob).json()] == ["3456"]
    assert client.delete("/api/v1/keys/anthropic", headers=as_bob).status_code == 404
    assert {t["id"] for t in client.get("/api/v1/tokens", headers=as_bob).json()}.isdisjoint({ada.token_id})

    # Ada's data is untouched by everything Bob tried.
    ada_view = client.get(f"/api/v1/conversations/{cid}", headers=ada.headers).json()
    assert ada_view["status"] != "stopped"
    assert len(client.get(f"/api/v1/conversations/{cid}/messages", headers=ada.headers).json()["items"]) == 3
    assert client.get(f"/api/v1/personas/{pid}", headers=ada.headers).status_code == 200


def test_multi_user_mode_requires_a_valid_token(accounts: tuple[TestClient, Account, Account]) -> None:
    client, ada, _ = accounts
    for headers in ({}, {"Authorization": "Bearer tt_not-a-real-token"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/conversations", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_signed_in"
    assert client.delete(f"/api/v1/tokens/{ada.token_id}", headers=ada.headers).status_code == 204
    assert client.get("/api/v1/keys", headers=ada.headers).status_code == 200, "other tokens still work"


def test_multi_user_mode_refuses_a_default_or_missing_secret(tmp_path: Path) -> None:
    from thinktank.errors import ConfigurationError

    for secret in (None, "change-me", "short-secret"):
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", auth="multi", secret_key=secret
        )
        with pytest.raises(ConfigurationError, match="THINKTANK_SECRET_KEY"):
            create_app(settings)
