"""`thinktank discuss` as a user runs it."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "THINKTANK_LIBRARY_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("THINKTANK_SCRIPTED_LATENCY", "0")
    monkeypatch.setenv("COLUMNS", "160")


def test_a_scripted_discussion_streams_explains_and_totals(tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "t.json", tmp_path / "t.md"
    result = runner.invoke(
        app,
        [
            "discuss",
            "--template",
            "security-review",
            "--model",
            "scripted",
            "--messages",
            "4",
            "--seed",
            "5",
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "seed 5" in result.output
    assert result.output.count("why: ") == 4
    assert "Tokens and cost" in result.output
    assert "provider: scripted" in result.output
    data = json.loads(out_json.read_text())
    assert (data["schema"], data["version"]) == ("thinktank.transcript", 1)
    assert data["conversation"]["seed"] == 5
    assert [m["kind"] for m in data["messages"]] == ["user", "persona", "persona", "persona", "persona"]
    assert data["messages"][1]["decision"]["reason"]
    assert data["totals"]["total"]["billed_usd"] == "0"
    markdown = out_md.read_text()
    assert markdown.startswith("# Review our planned authentication system architecture.")
    assert "| **total** |" in markdown

    again = runner.invoke(
        app, ["discuss", "--template", "security-review", "--model", "scripted", "-n", "4", "--seed", "5"]
    )
    texts = [line for line in result.output.splitlines() if line.startswith(("Diana", "Alex", "Olga"))]
    assert texts == [line for line in again.output.splitlines() if line.startswith(("Diana", "Alex", "Olga"))]


def test_topic_and_personas_with_an_inline_custom_persona(tmp_path: Path) -> None:
    from thinktank.library.loader import bundled_library_dir

    custom = (bundled_library_dir() / "personas" / "cfo.yaml").read_text()
    custom = custom.replace("id: cfo", "id: my-accountant").replace("Grace Liu", "Pat Doe")
    path = tmp_path / "accountant.yaml"
    path.write_text(custom)
    result = runner.invoke(
        app,
        [
            "discuss",
            "Should we lease or buy our servers?",
            "-p",
            "devops-engineer",
            "-p",
            str(path),
            "--model",
            "scripted",
            "-n",
            "2",
            "--mode",
            "debate",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Pat Doe" in result.output
    assert "mode debate" in result.output


def test_manual_mode_steers_between_turns(tmp_path: Path) -> None:
    out = tmp_path / "manual.json"
    commands = "\n".join(
        [
            "",
            "end-user",
            "What about people on slow phones?",
            "/add cfo",
            "/remove ux-designer",
            "cfo",
            "/bogus",
            "/quit",
        ]
    )
    result = runner.invoke(
        app,
        [
            "discuss",
            "--template",
            "startup-product-planning",
            "--model",
            "scripted",
            "--manual",
            "-n",
            "20",
            "--json",
            str(out),
        ],
        input=commands + "\n",
    )
    assert result.exit_code == 0, result.output
    messages = json.loads(out.read_text())["messages"]
    speakers = [m["speaker_id"] for m in messages]
    assert speakers[2] == "end-user", "a persona id picks the next speaker"
    assert messages[3]["kind"] == "user"
    assert messages[3]["text"] == "What about people on slow phones?"
    assert messages[4]["kind"] == "persona", "the interjection is answered right away"
    assert speakers[5] == "cfo"
    assert "cfo" in [m["id"] for m in json.loads(out.read_text())["members"]]
    assert "ux-designer" not in [m["id"] for m in json.loads(out.read_text())["members"]]
    assert "unknown command '/bogus'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "startup-planing"], "did you mean 'startup-product-planning'"),
        (["topic", "-p", "cfo", "--model", "gpt-4"], "has no provider"),
        (["topic", "-p", "cfo", "--scorer", "magic"], "unknown scorer"),
        (["topic", "-p", "cfo", "--max-cost", "-1"], "positive amount"),
        (["topic", "-p", "missing.yaml"], "no such persona file"),
    ],
)
def test_bad_input_exits_2_with_one_readable_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["discuss", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_ctrl_c_stops_cleanly_and_still_writes_the_transcript(tmp_path: Path) -> None:
    out = tmp_path / "interrupted.json"
    env = {**os.environ, "THINKTANK_SCRIPTED_LATENCY": "0.3", "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thinktank",
            "discuss",
            "--template",
            "security-review",
            "--model",
            "scripted",
            "-n",
            "50",
            "--json",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        if line.startswith("why:") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "stopped (Ctrl-C)" in rest
    data = json.loads(out.read_text())
    assert data["conversation"]["status"] == "stopped"
    assert 1 <= sum(1 for m in data["messages"] if m["kind"] == "persona") < 50


@pytest.mark.local_model
def test_the_bundled_model_runs_a_real_discussion_with_no_keys(tmp_path: Path) -> None:
    out = tmp_path / "local.json"
    result = runner.invoke(
        app,
        ["discuss", "--template", "security-review", "--messages", "3", "--seed", "1", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "No API key for:" in result.output
    assert "running on local:smollm2 instead" in result.output
    data = json.loads(out.read_text())
    replies = [m for m in data["messages"] if m["kind"] == "persona"]
    assert replies
    assert all(m["model_id"] == "local:smollm2" for m in replies)
    assert all(m["usage"]["output_tokens"] > 0 for m in replies)
    # The tiny model's reply is sometimes cut by the speaker guard; then someone else is asked, so a
    # speaker may come back, but never twice in a row and the run still reaches its three messages.
    assert len(replies) == 3
    speakers = [m["speaker_id"] for m in replies]
    assert all(a != b for a, b in itertools.pairwise(speakers)), speakers
    assert len(set(speakers)) >= 2


def test_serve_refuses_to_listen_beyond_loopback_without_sign_in() -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0" in result.output


def test_a_run_that_stalls_exits_1_with_why_and_how_to_resume_and_resume_continues_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reply speaks as someone else, so the guard cuts them all and auto mode pauses."""
    from tests.fakes import FakeServer
    from tests.models.test_providers import openai_stream
    from thinktank.assembly import factory_from_settings
    from thinktank.cli import discuss

    replies = {"text": "You: we should all wait.\nNo."}
    server = FakeServer(always=lambda request: openai_stream(replies["text"]))
    monkeypatch.setenv("THINKTANK_OPENAI_COMPATIBLE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("THINKTANK_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        discuss,
        "factory_from_settings",
        lambda settings: factory_from_settings(settings, http_client=server.client()),
    )
    args = ["discuss", "--template", "security-review", "--model", "openai-compatible:gpt-4o-mini", "-n", "4"]
    stalled = runner.invoke(app, args)
    assert stalled.exit_code == 1, stalled.output
    line = stalled.stderr.strip().splitlines()[-1]
    assert line.startswith(
        "error: stopped at 0 of 4 messages: paused after 3 turns in a row produced no reply"
    )
    assert "continue with: thinktank discuss --resume " in line
    saved = Path(line.rsplit("--resume ", 1)[1])
    assert saved.parent == tmp_path / "transcripts"
    assert json.loads(saved.read_text())["conversation"]["status"] == "paused"

    replies["text"] = "We should ship the fix behind a flag."
    resumed = runner.invoke(app, ["discuss", "--resume", str(saved)])
    assert resumed.exit_code == 0, resumed.output
    data = json.loads(saved.read_text())
    assert data["conversation"]["status"] == "finished"
    assert sum(1 for m in data["messages"] if m["kind"] == "persona") == 4
    assert [m["index"] for m in data["messages"]] == list(range(len(data["messages"])))


def test_resume_refuses_what_is_not_a_transcript(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    result = runner.invoke(app, ["discuss", "--resume", str(bad)])
    assert result.exit_code == 2
    assert "not a ThinkTank transcript" in result.output
    missing = runner.invoke(app, ["discuss", "--resume", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    assert "--resume" in missing.output
