"""What every request passes first: the body limit while reading, NUL characters refused at the
edge, and in local mode the Host and Origin checks that keep other web sites out."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SECRET, start
from thinktank.api.app import create_app
from thinktank.settings import Settings


async def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(tmp_path: Path) -> None:
    """No Content-Length, no token: the 413 comes after 256 KB, not after the whole 12 MB."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.db'}",
        data_dir=tmp_path,
        auth="multi",
        secret_key=SECRET,
    )
    app = create_app(settings)
    chunks = 200
    delivered = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        delivered += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": delivered < chunks}

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/conversations",
        "raw_path": b"/api/v1/conversations",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert delivered <= 5


def test_a_declared_length_over_the_limit_is_refused_at_once(client: TestClient) -> None:
    answer = client.post("/api/v1/conversations", content=b"{}", headers={"content-length": str(300 * 1024)})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/conversations", {"topic": "a\u0000b", "persona_ids": ["cfo"], "model": "scripted"}),
        ("GET", "/api/v1/conversations?search=%00", None),
        ("GET", "/api/v1/personas?search=a%00", None),
        ("GET", "/api/v1/conversations/%00", None),
        ("POST", "/api/v1/tokens", {"name": "ci\u0000"}),
    ],
)
def test_nul_characters_are_refused_at_the_edge(
    client: TestClient, method: str, path: str, body: object
) -> None:
    """PostgreSQL cannot store NUL: refused before anything is read or written, on both databases."""
    answer = client.request(method, path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"


def test_a_nul_interjection_or_member_leaves_the_transcript_whole(client: TestClient) -> None:
    cid = start(client, max_messages=10)
    assert client.post(f"/api/v1/conversations/{cid}/turns").status_code == 200
    said = client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "why\u0000not"})
    assert said.status_code == 422
    persona = client.get("/api/v1/personas/cfo").json()["persona"]
    persona.update(id="nul-cfo", name="C\u0000FO")
    joined = client.post(f"/api/v1/conversations/{cid}/members", json={"persona": persona})
    assert joined.status_code == 422
    assert client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "fine"}).status_code == 201
    assert client.post(f"/api/v1/conversations/{cid}/turns").status_code == 200
    items = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    assert [m["index"] for m in items] == [0, 1, 2, 3]


def test_local_mode_answers_only_to_its_own_names(client: TestClient) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 must not read the API."""
    rebound = client.get("/api/v1/conversations", headers={"host": "evil.example"})
    assert rebound.status_code == 421
    assert rebound.json()["error"]["code"] == "unknown_host"
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
        assert client.get("/api/v1/conversations", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/ui/start/security-review", {}),
        ("/ui/preferences", {"data_retention": "none"}),
        ("/ui/keys", {"provider": "openai", "api_key": "sk-attacker-000000"}),
    ],
)
def test_another_site_cannot_drive_local_mode(client: TestClient, path: str, form: dict[str, str]) -> None:
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/page"},
        {"origin": "http://127.0.0.1:9999"},  # another local web app is another origin
        {"sec-fetch-site": "cross-site"},
    ):
        refused = client.post(path, data=form, headers=headers)
        assert refused.status_code == 403, (headers, refused.text)
        assert refused.json()["error"]["code"] == "cross_origin"
    assert client.get("/api/v1/conversations").json()["items"] == []


def test_own_pages_and_scripts_still_change_things(client: TestClient) -> None:
    own = client.post(
        "/ui/preferences", data={"data_retention": "permanent"}, headers={"origin": "http://127.0.0.1"}
    )
    assert own.status_code == 200, own.text
    script = client.post(
        "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted"}
    )
    assert script.status_code == 201
