"""The decision memo over the API and from the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.conftest import start
from tests.fakes import FakeServer
from thinktank.api.app import create_app
from thinktank.cli.app import app as cli
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings


def test_write_read_and_export_the_memo(client: TestClient) -> None:
    cid = start(client, max_messages=6)
    assert client.get(f"/api/v1/conversations/{cid}/memo").status_code == 404
    for _ in range(4):
        client.post(f"/api/v1/conversations/{cid}/turns")
    written = client.post(f"/api/v1/conversations/{cid}/memo", json={"chair": "scripted"})
    assert written.status_code == 200, written.text
    body = written.json()
    assert body["model_id"] == "scripted"
    indices = {m["index"] for m in client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]}
    assert set(body["memo"]["recommendation"]["cites"]) <= indices
    assert client.get(f"/api/v1/conversations/{cid}/memo").json()["memo"] == body["memo"]
    exported = client.get(f"/api/v1/conversations/{cid}/export").json()
    assert exported["memo"]["memo"] == body["memo"]
    markdown = client.get(f"/api/v1/conversations/{cid}/export", params={"format": "markdown"}).text
    assert "## Decision memo" in markdown
    assert "memo" in client.get(f"/api/v1/conversations/{cid}/costs").json()["by_persona"]
    assert client.post(f"/api/v1/conversations/{cid}/memo", json={"chair": "gpt4"}).status_code == 422


def stored_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, turns: int
) -> tuple[str, Settings]:
    """A conversation stored by a server, and the environment that points the CLI at its database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stored.db'}"
    settings = Settings(database_url=url, scripted_latency=NO_LATENCY, data_dir=tmp_path / "data")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        cid = start(client, max_messages=turns + 1)
        for _ in range(turns):
            client.post(f"/api/v1/conversations/{cid}/turns")
    monkeypatch.setenv("THINKTANK_DATABASE_URL", url)
    monkeypatch.setenv("THINKTANK_DATA_DIR", str(tmp_path / "data"))
    return cid, settings


def test_discuss_with_memo_and_the_memo_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("THINKTANK_SCRIPTED_LATENCY", "0")
    monkeypatch.setenv("COLUMNS", "160")
    out = tmp_path / "t.json"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "discuss",
            "--template",
            "security-review",
            "--model",
            "scripted",
            "-n",
            "4",
            "--memo",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Decision memo" in result.output
    assert "Recommendation:" in result.output
    assert json.loads(out.read_text())["memo"]["model_id"] == "scripted"

    cid, settings = stored_conversation(tmp_path, monkeypatch, turns=3)
    stored = runner.invoke(cli, ["memo", cid, "--chair", "scripted"])
    assert stored.exit_code == 0, stored.output
    assert "Decision memo" in stored.output
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.get(f"/api/v1/conversations/{cid}/memo").json()["model_id"] == "scripted"
    missing = runner.invoke(cli, ["memo", "no-such-conversation"])
    assert missing.exit_code == 2
    assert "unknown conversation" in missing.output


def test_fork_and_rerun_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cid, _ = stored_conversation(tmp_path, monkeypatch, turns=3)
    monkeypatch.setenv("THINKTANK_SCRIPTED_LATENCY", "0")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    forked = runner.invoke(cli, ["fork", cid, "--at", "1", "--mode", "debate", "-n", "2"])
    assert forked.exit_code == 0, forked.output
    assert f"shares messages 0–1 with {cid}" in forked.output
    assert forked.output.count(": ") >= 2, "the fork's two turns are printed"
    rerun = runner.invoke(cli, ["rerun", cid, "--seed", "77"])
    assert rerun.exit_code == 0, rerun.output
    assert "seed: 77" in rerun.output
    assert "recommendation" in rerun.output
    assert runner.invoke(cli, ["rerun", cid, "--persona-model", "cfo"]).exit_code == 2
    assert runner.invoke(cli, ["fork", cid, "--at", "99"]).exit_code == 2


def test_a_discussion_that_runs_to_its_end_gets_its_memo(client: TestClient) -> None:
    cid = start(client, max_messages=3, turn_delay=0)
    client.put(f"/api/v1/conversations/{cid}/mode", json={"mode": "auto"})
    deadline = time.monotonic() + 30
    while (memo := client.get(f"/api/v1/conversations/{cid}/memo")).status_code == 404:
        assert time.monotonic() < deadline, "no memo after the end"
        time.sleep(0.05)
    assert client.get(f"/api/v1/conversations/{cid}").json()["status"] == "finished"
    indices = {m["index"] for m in client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]}
    assert set(memo.json()["memo"]["recommendation"]["cites"]) <= indices


@pytest.mark.parametrize("stored_key", [True, False])
def test_the_commands_use_the_users_stored_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored_key: bool
) -> None:
    """`fork` builds the service as the server does: a key the user stored through the web app
    makes their openai persona call openai (refused here by the tests' network switch, so the call
    shows); without one, the persona runs on the substitute model as on the server."""
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    cid, settings = stored_conversation(tmp_path, monkeypatch, turns=2)
    if stored_key:
        models = FakeServer().queue(httpx2.Response(200, json={"object": "list", "data": []}))
        with TestClient(create_app(settings, http_client=models.client())) as client:
            added = client.put("/api/v1/keys/openai", json={"api_key": "sk-stored-by-the-user-7731"})
            assert added.status_code == 200, added.text
    monkeypatch.setenv("THINKTANK_SCRIPTED_LATENCY", "0")

    forked = CliRunner().invoke(cli, ["fork", cid, "--at", "1", "--model", "openai:gpt-4.1-mini", "-n", "1"])

    if stored_key:
        assert forked.exit_code == 2, forked.output
        assert "refusing to call openai:gpt-4.1-mini" in forked.output
    else:
        assert forked.exit_code == 0, forked.output
        assert "shares messages 0–1" in forked.output
