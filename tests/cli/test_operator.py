"""The operator's commands: db upgrade/current, users create, keys set-platform/list/rotate-master, purge."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.accounts.tokens import user_for_token
from thinktank.cli.app import app
from thinktank.store.db import Database
from thinktank.store.scope import system_scope

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("THINKTANK_DATABASE_URL", url)
    monkeypatch.setenv("THINKTANK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("THINKTANK_MASTER_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    return url


def test_db_upgrade_and_current(database: str) -> None:
    assert "current: empty" in runner.invoke(app, ["db", "current"]).output
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    head = upgraded.output.split()[-1]
    assert f"current: {head} · newest: {head}" in runner.invoke(app, ["db", "current"]).output


def test_users_create_prints_a_token_that_signs_in(database: str) -> None:
    created = runner.invoke(app, ["users", "create", "ops@example.com", "--tier", "pro"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]

    async def owner() -> str | None:
        db = Database(database)
        try:
            with system_scope():
                async with db.session() as session:
                    return await user_for_token(session, token)
        finally:
            await db.dispose()

    assert asyncio.run(owner()) is not None
    again = runner.invoke(app, ["users", "create", "ops@example.com"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert runner.invoke(app, ["users", "create", "x@example.com", "--tier", "platinum"]).exit_code == 2


def test_platform_keys_and_master_key_rotation(database: str, tmp_path: Path) -> None:
    stored = runner.invoke(
        app, ["keys", "set-platform", "openai", "--no-validate"], input="sk-platform-key-4321\n"
    )
    assert stored.exit_code == 0, stored.output
    assert "ending in 4321" in stored.output
    assert "sk-platform-key-4321" not in stored.output
    listed = runner.invoke(app, ["keys", "list"])
    assert "…4321" in listed.output
    old_key = (tmp_path / "data" / "master.key").read_text()
    rotated = runner.invoke(app, ["keys", "rotate-master"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted 1 key(s)" in rotated.output
    assert (tmp_path / "data" / "master.key").read_text() != old_key
    assert "…4321" in runner.invoke(app, ["keys", "list"]).output
    assert (
        runner.invoke(
            app, ["keys", "set-platform", "mistral", "--no-validate"], input="k" * 20 + "\n"
        ).exit_code
        == 2
    )


def test_purge_runs_once(database: str) -> None:
    result = runner.invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged 0 conversation(s)" in result.output
