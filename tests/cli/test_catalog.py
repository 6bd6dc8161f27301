"""`thinktank personas|templates|models` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app

runner = CliRunner()
KEY_VARS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "THINKTANK_OPENAI_COMPATIBLE_BASE_URL",
    "THINKTANK_LIBRARY_DIR",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def test_personas_list_and_filter_by_category() -> None:
    everything = runner.invoke(app, ["personas", "list"])
    assert everything.exit_code == 0
    assert "Alex Chen" in everything.output
    assert "Jamie Rivera" in everything.output
    security = runner.invoke(app, ["personas", "list", "--category", "security"])
    assert security.exit_code == 0
    assert "Diana Patel" in security.output
    assert "Alex Chen" not in security.output


def test_unknown_category_exits_2_with_a_suggestion() -> None:
    result = runner.invoke(app, ["personas", "list", "--category", "Securty"])
    assert result.exit_code == 2
    assert "unknown category 'Securty'; did you mean 'Security'?" in result.output


def test_personas_show_prints_every_field() -> None:
    result = runner.invoke(app, ["personas", "show", "security-expert"])
    assert result.exit_code == 0
    for text in (
        "Diana Patel",
        "Security Architect",
        "CISSP",
        "Threat Modeling",
        "anthropic:claude-3-7-sonnet",
    ):
        assert text in result.output


def test_unknown_persona_exits_2_with_one_line_and_suggestions() -> None:
    result = runner.invoke(app, ["personas", "show", "ux-desginer"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: unknown persona 'ux-desginer'; did you mean 'ux-designer'")


def test_templates_show_prints_a_computed_cost_on_both_models() -> None:
    result = runner.invoke(app, ["templates", "show", "startup-product-planning"])
    assert result.exit_code == 0
    assert "on the personas' own models: $0." in result.output
    assert "on the local model (local:smollm2): $0.0000" in result.output
    assert "runs on local:smollm2 instead" in result.output, "no keys here: the substitution is announced"


def test_templates_list_shows_every_template() -> None:
    result = runner.invoke(app, ["templates", "list"])
    assert result.exit_code == 0
    assert "startup-product-planning" in result.output
    assert result.output.count("$0.") >= 12


def test_unknown_template_exits_2() -> None:
    result = runner.invoke(app, ["templates", "show", "api-desing"])
    assert result.exit_code == 2
    assert "did you mean 'api-design'" in result.output


def test_models_shows_which_keys_are_present_and_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-DO-NOT-PRINT-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert secret not in result.output
    assert "1234" not in result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "ready" in lines["openai"]
    assert "not configured" in lines["anthropic"]
    assert "ready" in lines["local"]


def test_a_broken_user_library_is_one_readable_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "x.yaml").write_text("id: x\n")
    monkeypatch.setenv("THINKTANK_LIBRARY_DIR", str(tmp_path))
    result = runner.invoke(app, ["personas", "list"])
    assert result.exit_code == 2
    assert (
        "x.yaml: name: required field is missing" in result.output
    )  # only name, role, system prompt are required
