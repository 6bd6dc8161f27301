"""Kill the server mid-turn (SIGKILL) and restart it: the data stays consistent."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx

from tests.api.test_events import sse_events
from tests.server_process import running_server


def test_killing_the_server_mid_turn_leaves_consistent_data(tmp_path: Path) -> None:
    database = tmp_path / "crash.db"
    url = f"sqlite+aiosqlite:///{database}"
    with running_server(database_url=url, latency="0.6-1.0") as server:
        api = f"{server.url}/api/v1"
        cid = httpx.post(
            f"{api}/conversations",
            json={"template_id": "security-review", "model": "scripted", "max_messages": 30, "turn_delay": 0},
        ).json()["id"]
        completed = 0
        with httpx.stream(
            "GET", f"{api}/conversations/{cid}/events", timeout=httpx.Timeout(60.0)
        ) as response:
            httpx.put(f"{api}/conversations/{cid}/mode", json={"mode": "auto"})
            for event in sse_events(response):
                kind = json.loads(event["data"])["type"]
                if kind == "message.completed":
                    completed += 1
                if completed >= 2 and kind == "token.delta":
                    server.kill()  # mid-stream of the third reply
                    break

    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT idx, kind, incomplete, id FROM messages WHERE conversation_id = ? ORDER BY idx", (cid,)
        ).fetchall()
        persona_ids = {row[3] for row in rows if row[1] == "persona"}
        costs = db.execute(
            "SELECT account, message_id FROM cost_records WHERE conversation_id = ?", (cid,)
        ).fetchall()
        status = db.execute("SELECT status FROM conversations WHERE id = ?", (cid,)).fetchone()[0]
    assert [row[0] for row in rows] == list(range(len(rows))), "no gaps, no half-written message"
    assert len(persona_ids) == completed, "the reply being streamed at the kill was never written"
    assert all(row[2] == 0 for row in rows)
    message_costs = [
        message_id for account, message_id in costs if account not in ("orchestrator", "summaries")
    ]
    assert sorted(message_costs) == sorted(persona_ids), (
        "every message has its cost and no cost lacks its message"
    )
    assert status == "running", "the crash left it claiming to run..."

    with running_server(database_url=url) as server:
        api = f"{server.url}/api/v1"
        conversation = httpx.get(f"{api}/conversations/{cid}").json()
        assert conversation["status"] == "paused", "...until the restart marks it paused"
        assert "restarted" in conversation["stop_reason"]
        assert httpx.post(f"{api}/conversations/{cid}/resume").status_code == 204, "auto mode picks up again"
        deadline = time.monotonic() + 30
        while len(httpx.get(f"{api}/conversations/{cid}/messages").json()["items"]) <= len(rows):
            assert time.monotonic() < deadline, "the resumed conversation never spoke"
            time.sleep(0.1)
        assert httpx.post(f"{api}/conversations/{cid}/stop").status_code == 204
