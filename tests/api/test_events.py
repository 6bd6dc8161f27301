"""Live events over SSE from a real server process: replay on reconnect, many watchers, heartbeats."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_process import running_server


def sse_events(response: httpx.Response) -> Iterator[dict[str, str]]:
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            event[field] = value


def read_until_finished(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    stop_after: int | None = None,
    ready: threading.Barrier | None = None,
) -> list[dict[str, str]]:
    """Events until the conversation finishes or stops (or `stop_after` of them); `ready` is passed
    once the stream is open, so a test can start the run only when every watcher listens."""
    seen: list[dict[str, str]] = []
    with httpx.stream("GET", url, headers=headers or {}, timeout=httpx.Timeout(60.0)) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        if ready is not None:
            ready.wait()
        for event in sse_events(response):
            seen.append(event)
            if stop_after is not None and len(seen) >= stop_after:
                break
            data = json.loads(event["data"])
            if data["type"] == "state.changed" and data["status"] in ("finished", "stopped"):
                break
    return seen


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with running_server(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'events.db'}", latency="0.05-0.1"
    ) as process:
        yield process.url


def test_a_client_that_reconnects_sees_every_event_exactly_once(server: str) -> None:
    api = f"{server}/api/v1"
    cid = httpx.post(
        f"{api}/conversations",
        json={
            "template_id": "security-review",
            "model": "scripted",
            "max_messages": 6,
            "turn_delay": 0,
            "seed": 2,
        },
    ).json()["id"]
    events_url = f"{api}/conversations/{cid}/events"
    results: dict[str, list[dict[str, str]]] = {}
    ready = threading.Barrier(3)

    def watch_whole() -> None:
        results["whole"] = read_until_finished(events_url, ready=ready)

    def watch_with_a_drop() -> None:
        first = read_until_finished(events_url, ready=ready, stop_after=25)
        rest = read_until_finished(events_url, headers={"Last-Event-ID": first[-1]["id"]})
        results["dropped"] = first + rest

    threads = [threading.Thread(target=watch_whole), threading.Thread(target=watch_with_a_drop)]
    for thread in threads:
        thread.start()
    ready.wait()
    assert httpx.put(f"{api}/conversations/{cid}/mode", json={"mode": "auto"}).status_code == 204
    for thread in threads:
        thread.join(timeout=60)
    whole, dropped = results["whole"], results["dropped"]
    assert [e["id"] for e in dropped] == [e["id"] for e in whole], "no gap and no duplicate"
    assert [e["data"] for e in dropped] == [e["data"] for e in whole]
    kinds = [json.loads(e["data"])["type"] for e in whole]
    for kind in ("turn.decided", "token.delta", "message.completed", "costs.updated", "state.changed"):
        assert kind in kinds
    assert kinds.count("message.completed") == 6
    deltas = "".join(
        json.loads(e["data"])["text"] for e in whole if json.loads(e["data"])["type"] == "token.delta"
    )
    messages = httpx.get(f"{api}/conversations/{cid}/messages").json()["items"]
    assert deltas == "".join(m["text"] for m in messages if m["kind"] == "persona")


def test_an_unknown_or_stale_event_id_asks_the_client_to_resync(server: str) -> None:
    api = f"{server}/api/v1"
    cid = httpx.post(
        f"{api}/conversations", json={"template_id": "security-review", "model": "scripted"}
    ).json()["id"]
    first = read_until_finished(
        f"{api}/conversations/{cid}/events", headers={"Last-Event-ID": "otherprocess-17"}, stop_after=1
    )
    assert json.loads(first[0]["data"])["type"] == "sync.required"


def test_heartbeats_keep_an_idle_stream_alive(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from thinktank.api.app import create_app
    from thinktank.models.scripted import NO_LATENCY
    from thinktank.settings import Settings

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hb.db'}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path,
    )
    with TestClient(create_app(settings, heartbeat_seconds=0.05), base_url="http://127.0.0.1") as client:
        cid = client.post(
            "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted"}
        ).json()["id"]
        with client.stream("GET", f"/api/v1/conversations/{cid}/events") as response:
            lines = []
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith(": heartbeat"):
                    break
        assert ": heartbeat" in lines


def test_events_of_someone_elses_or_a_missing_conversation_are_not_found(server: str) -> None:
    assert httpx.get(f"{server}/api/v1/conversations/missing/events").status_code == 404


def test_a_deleted_conversation_sends_a_last_event_and_closes_its_stream(server: str) -> None:
    """The room learns its conversation is gone, and the browser does not reconnect forever."""
    api = f"{server}/api/v1"
    cid = httpx.post(
        f"{api}/conversations", json={"template_id": "security-review", "model": "scripted"}
    ).json()["id"]
    seen: list[dict[str, str]] = []
    ended = threading.Event()
    opened = threading.Event()

    def watch() -> None:
        with httpx.stream(
            "GET", f"{api}/conversations/{cid}/events", timeout=httpx.Timeout(20.0)
        ) as response:
            opened.set()
            seen.extend(sse_events(response))
        ended.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert opened.wait(20)
    assert httpx.delete(f"{api}/conversations/{cid}").status_code == 204
    assert ended.wait(10), "the stream stays open after its conversation was deleted"
    assert [e["event"] for e in seen][-1:] == ["conversation.deleted"]
    assert json.loads(seen[-1]["data"])["conversation_id"] == cid
