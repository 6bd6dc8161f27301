"""The README's commands exist and its documented environment variables are the ones we read."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app

README = (Path(__file__).parents[1] / "README.md").read_text()
COMMANDS = sorted(
    {m.group(1) for m in re.finditer(r"\.venv/bin/thinktank ((?:[a-z][a-z-]* ?){1,2})", README)}
)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_has_help(command: str) -> None:
    words = [w for w in shlex.split(command) if re.fullmatch(r"[a-z][a-z-]*", w)]
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output


def test_every_option_in_the_readme_exists() -> None:
    commands = (["discuss"], ["serve"], ["worker"], ["loadtest"], ["batch", "run"])
    help_text = "".join(
        CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output for command in commands
    )
    for option in set(re.findall(r"`(--[a-z-]+)", README)):
        assert option in help_text, option


def test_documented_environment_variables_are_read_by_the_code() -> None:
    source = "\n".join(p.read_text() for p in (Path(__file__).parents[1] / "src").rglob("*.py"))
    variables = re.findall(r"\| `([A-Z_]+)`", README)
    assert len(variables) >= 8
    for variable in variables:
        assert variable in source, variable


def test_multi_user_settings_come_from_the_environment() -> None:
    from thinktank.settings import Settings

    env = {
        "THINKTANK_AUTH": "multi",
        "THINKTANK_SECRET_KEY": "x" * 40,
        "THINKTANK_PUBLIC_URL": "https://tt.example.com",
        "THINKTANK_COOKIE_SECURE": "0",
        "THINKTANK_SMTP_URL": "smtp://u:p@mail:587",
        "THINKTANK_MAIL_FROM": "TT <a@b.c>",
    }
    settings = Settings.from_env(env)
    assert (settings.auth, settings.secret_key, settings.public_url) == (
        "multi",
        "x" * 40,
        "https://tt.example.com",
    )
    assert settings.cookie_secure is False
    assert (settings.smtp_url, settings.mail_from) == ("smtp://u:p@mail:587", "TT <a@b.c>")
    assert Settings.from_env({}).cookie_secure is True
