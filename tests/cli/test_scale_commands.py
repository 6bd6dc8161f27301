"""`thinktank batch run`, `thinktank loadtest` and `thinktank worker` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKTANK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("THINKTANK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("THINKTANK_SCRIPTED_LATENCY", "0")
    monkeypatch.delenv("THINKTANK_REDIS_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def test_batch_run_prints_each_result_and_the_total(tmp_path: Path) -> None:
    batch = tmp_path / "batch.yaml"
    batch.write_text(
        "name: smoke\ntopics: ['Raise prices?']\ntemplates: [security-review]\n"
        "max_cost: 0.5\nmessages: 2\nmodel: scripted\n"
    )
    result = runner.invoke(app, ["batch", "run", str(batch), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "finished"
    assert [(r["template_id"], r["status"], r["messages"]) for r in report["runs"]] == [
        ("security-review", "finished", 2)
    ]
    table = runner.invoke(app, ["batch", "run", str(batch)])
    assert table.exit_code == 0, table.output
    assert "total cost $0 (cap $0.5)" in table.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no batch file"),
        ("topics: [a", "not valid YAML or JSON (line"),
        ("- just a list", "must hold a mapping"),
        ("topics: [a]\ntemplates: all\n", "max_cost"),
        ("topics: [a]\ntemplates: [nope]\nmax_cost: 1\n", "unknown template"),
    ],
)
def test_batch_run_refuses_a_bad_file_in_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["batch", "run", str(path)])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.usefixtures("restored_gc")  # the command tunes the collector, as a server does
def test_loadtest_reports_throughput_percentiles_errors_and_estimated_cost() -> None:
    result = runner.invoke(
        app,
        [
            "loadtest",
            "--conversations",
            "4",
            "--turns",
            "2",
            "--latency",
            "0.05",
            "--personas",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["conversations"], report["messages"], report["errors"]) == (4, 8, 0)
    assert report["ideal_throughput"] == 80.0
    assert 0 < report["efficiency"] <= 1.2
    assert report["reply_seconds"]["p50"] >= 0.05
    assert report["loop_lag_ms"]["p99"] >= 0
    assert float(report["estimated_cost_usd"]) > 0, "priced on the personas' real models"
    assert all(":" in model for model in report["estimated_cost_by_model"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["loadtest", "--latency", "2-1"], "--latency"),
        (["loadtest", "--url", "ftp://x"], "--url must start with http"),
        (["worker"], "THINKTANK_REDIS_URL"),
    ],
)
def test_bad_options_are_one_readable_line(arguments: list[str], message: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert message in result.output
