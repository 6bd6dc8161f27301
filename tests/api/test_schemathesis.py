"""Schemathesis over /openapi.json: every operation, a bounded number of generated requests each,
local and multi-user, SQLite and PostgreSQL (as an ordinary role, so row-level security applies).
No answer may be a 5xx, and every answer must match what the schema documents (status, media
type, body, headers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok

from tests.api.conftest import SECRET
from tests.services import fresh_postgres_database
from tests.store.test_migrations import upgrade
from tests.store.test_rls import grant_app_role, make_users
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings

EXAMPLES_PER_OPERATION = 4
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
SKIPPED = {
    # A stream that only ends with its conversation: nothing to validate in one response.
    ("GET", "/api/v1/conversations/{conversation_id}/events"),
    # Would delete the signed-in user (or everything of the local one) half-way through the run.
    ("DELETE", "/api/v1/account"),
}
BASE = "http://127.0.0.1"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
        upgrade(url)
        yield url
        return
    with fresh_postgres_database() as url:
        upgrade(url)
        name = url.rsplit("/", 1)[1]
        asyncio.run(grant_app_role(name))
        yield f"postgresql+asyncpg://thinktank_app@{url.split('@', 1)[1]}"


def _send(client: TestClient, request: dict[str, Any]) -> Any:
    """A request as schemathesis serialised it (for `requests`), sent through the test client."""
    request = dict(request)
    data = request.pop("data", None)
    if isinstance(data, str | bytes):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    request.pop("auth", None)
    cookies = request.pop("cookies", None) or {}
    if cookies:
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        request["headers"] = {**(request.get("headers") or {}), "Cookie": cookie}
    url = str(request.pop("url"))
    return client.request(request.pop("method"), url, **request)


def fuzz(client: TestClient, headers: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    problems: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) > 40
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],  # bounded: a failure is reported, not shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case) -> None:
            request = case.as_transport_kwargs(base_url=BASE, headers=headers)
            case.validate_response(_send(client, request), checks=CHECKS, headers=headers)

        try:
            exercise()
        except Exception as failure:
            problems.append(f"{operation.label}: {str(failure)[:600]}")
    return problems


def test_local_mode_answers_every_operation_as_documented(database: str, tmp_path: Path) -> None:
    settings_ = Settings(database_url=database, scripted_latency=NO_LATENCY, data_dir=tmp_path / "d")
    with TestClient(create_app(settings_), base_url=BASE, raise_server_exceptions=False) as client:
        problems = fuzz(client, {})
    assert not problems, "\n\n".join(problems)


def test_multi_user_mode_answers_every_operation_as_documented(database: str, tmp_path: Path) -> None:
    token, _ = asyncio.run(make_users(database))  # as the system: RLS hides users from the app role
    settings_ = Settings(
        database_url=database,
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "d",
        auth="multi",
        secret_key=SECRET,
    )
    with TestClient(create_app(settings_), base_url=BASE, raise_server_exceptions=False) as client:
        problems = fuzz(client, {"Authorization": f"Bearer {token}"})
    assert not problems, "\n\n".join(problems)
