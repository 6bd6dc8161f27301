"""The README's commands exist and its documented environment variables are the ones we read."""

from __future__ import annotations

import dataclasses
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


def documented_variables() -> list[list[str]]:
    """The variables named in the first column of each row of the README's environment table."""
    rows = [line.split("|")[1] for line in README.splitlines() if line.startswith("| `")]
    return [re.findall(r"`([A-Z][A-Z0-9_]+)`", cell) for cell in rows]


def alternatives() -> list[list[str]]:
    """Rows like "`GEMINI_API_KEY` or `GOOGLE_API_KEY`": either one does the job."""
    rows = [line.split("|")[1] for line in README.splitlines() if line.startswith("| `")]
    return [re.findall(r"`([A-Z][A-Z0-9_]+)`", cell) for cell in rows if "` or `" in cell]


KEY = "oF0uQv1y0Tz6ZQh3bU9Qb3cC6p8uM5wT2Jt0yq2sL1E="  # 32 bytes, urlsafe base64
# A valid value for every documented variable: each one must change what the settings build.
SAMPLES = {
    "ANTHROPIC_API_KEY": "sk-ant-sample",
    "OPENAI_API_KEY": "sk-openai-sample",
    "GEMINI_API_KEY": "gemini-sample",
    "GOOGLE_API_KEY": "google-sample",
    "THINKTANK_OPENAI_COMPATIBLE_BASE_URL": "http://127.0.0.1:11434/v1",
    "THINKTANK_OPENAI_COMPATIBLE_API_KEY": "compatible-sample",
    "THINKTANK_LIBRARY_DIR": "/srv/library",
    "THINKTANK_MARKUP": "1.5",
    "THINKTANK_DATABASE_URL": "sqlite:////srv/thinktank.db",
    "THINKTANK_DATA_DIR": "/srv/data",
    "THINKTANK_MASTER_KEY": KEY,
    "THINKTANK_FINGERPRINT_KEY": KEY,
    "THINKTANK_TIERS_FILE": "/srv/tiers.yaml",
    "THINKTANK_AUTH": "multi",
    "THINKTANK_SECRET_KEY": "s" * 40,
    "THINKTANK_PUBLIC_URL": "https://thinktank.example",
    "THINKTANK_SMTP_URL": "smtp://user:password@mail.example:587",
    "THINKTANK_MAIL_FROM": "Panel <panel@example.com>",
    "THINKTANK_GITHUB_CLIENT_ID": "gh-id",
    "THINKTANK_GITHUB_CLIENT_SECRET": "gh-secret",
    "THINKTANK_GOOGLE_CLIENT_ID": "g-id",
    "THINKTANK_GOOGLE_CLIENT_SECRET": "g-secret",
    "THINKTANK_OIDC_ISSUER": "https://id.example",
    "THINKTANK_OIDC_CLIENT_ID": "o-id",
    "THINKTANK_OIDC_CLIENT_SECRET": "o-secret",
    "THINKTANK_COOKIE_SECURE": "0",
    "THINKTANK_SUBSTITUTE_MODEL": "scripted",
    "THINKTANK_SCRIPTED_LATENCY": "0.1-0.2",
    "THINKTANK_REDIS_URL": "redis://127.0.0.1:6379/3",
    "THINKTANK_LEASE_SECONDS": "30",
    "THINKTANK_MODEL_FIRST_BYTE_TIMEOUT": "12",
    "THINKTANK_MODEL_IDLE_TIMEOUT": "9",
    "THINKTANK_ENV": "staging",
    "THINKTANK_LOG_FORMAT": "text",  # staging would log JSON
    "THINKTANK_RATE_LIMIT_RPM": "7",
    "THINKTANK_RATE_LIMIT_TPM": "7000",
    "SENTRY_DSN": "https://key@sentry.example/1",
}


def built_from(env: dict[str, str], key_dir: Path) -> str:
    """What the code makes of an environment: the settings (but the raw mapping they keep), the
    keyring and fingerprint secret, and the sign-in providers; or the error it refuses it with."""
    from thinktank.accounts.crypto import load_fingerprint_secret, load_keyring
    from thinktank.accounts.oauth import providers_from_env
    from thinktank.errors import ConfigurationError
    from thinktank.settings import Settings

    try:
        settings = Settings.from_env(env)
        fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "env"}
        keyring = load_keyring(settings.env, key_dir=key_dir).current
        fingerprint = load_fingerprint_secret(settings.env, key_dir=key_dir)
        return repr((fields, keyring, fingerprint, providers_from_env(settings.env)))
    except ConfigurationError as exc:
        return f"refused: {exc}"


def test_documented_environment_variables_are_read_by_the_code(tmp_path: Path) -> None:
    variables = [name for row in documented_variables() for name in row]
    assert len(variables) >= 20
    assert set(variables) <= set(SAMPLES), "give the new variable a sample value here"
    either = [name for row in alternatives() for name in row]
    everything = {name: SAMPLES[name] for name in variables if name not in either}
    full = built_from(everything, tmp_path)
    assert not full.startswith("refused"), full
    for variable in everything:
        without = {k: v for k, v in everything.items() if k != variable}
        assert built_from(without, tmp_path) != full, f"{variable} changes nothing the code builds"
    for variable in either:
        alone = built_from({**everything, variable: SAMPLES[variable]}, tmp_path)
        assert alone != full, f"{variable} changes nothing the code builds"


def test_every_setting_comes_from_a_documented_variable() -> None:
    """The converse, from the Settings model's own fields: each one changes when some documented
    variable is left out, so a setting read from an undocumented variable fails here."""
    from thinktank.settings import Settings

    everything = {name: SAMPLES[name] for row in documented_variables() for name in row}
    full = Settings.from_env(everything)
    without = [Settings.from_env({k: v for k, v in everything.items() if k != name}) for name in everything]
    for setting in dataclasses.fields(Settings):
        if setting.name == "env":  # the raw mapping itself, for secrets read on demand
            continue
        assert any(getattr(other, setting.name) != getattr(full, setting.name) for other in without), (
            f"Settings.{setting.name} is read from no variable in the README's table"
        )


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
