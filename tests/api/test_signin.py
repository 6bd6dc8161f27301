"""Magic-link sign-in, browser sessions with CSRF protection, rate limits and sign-out."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.api.conftest import SECRET
from tests.store.test_migrations import upgrade
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings
from thinktank.store.tables import LoginToken

LINK = re.compile(r"(/api/v1/auth/magic-link/verify\?token=[\w.-]+)")


def make_client(database_url: str, tmp_path: Path, *, secure: bool) -> TestClient:
    if database_url.startswith("sqlite"):
        upgrade(database_url)
    settings = Settings(
        database_url=database_url,
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "data",
        auth="multi",
        secret_key=SECRET,
        cookie_secure=secure,
    )
    return TestClient(create_app(settings))


@pytest.fixture
def browser(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(database_url, tmp_path, secure=False) as client:
        yield client


def sign_in_link(client: TestClient, caplog: pytest.LogCaptureFixture, email: str) -> str:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        response = client.post("/api/v1/auth/magic-link", json={"email": email})
    assert response.status_code == 202
    match = LINK.search(caplog.text)
    assert match, "without SMTP the link goes to the server log"
    return match.group(1)


def test_a_magic_link_signs_in_once_and_the_session_needs_csrf_for_changes(
    browser: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    link = sign_in_link(browser, caplog, "Cleo@Example.com")
    opened = browser.get(link, follow_redirects=False)
    assert opened.status_code == 303
    session = browser.get("/api/v1/auth/session").json()
    assert session["user"]["email"] == "cleo@example.com"
    csrf = session["csrf_token"]
    assert browser.get("/api/v1/conversations").status_code == 200
    body = {"template_id": "security-review", "model": "scripted"}
    refused = browser.post("/api/v1/conversations", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert (
        browser.post("/api/v1/conversations", json=body, headers={"X-CSRF-Token": "forged"}).status_code
        == 403
    )
    assert browser.post("/api/v1/conversations", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    browser.cookies.clear()
    again = browser.get(link, follow_redirects=False)
    assert again.status_code == 400
    assert "already used" in again.json()["error"]["message"]


def test_forged_and_expired_links_are_refused(browser: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    link = sign_in_link(browser, caplog, "dan@example.com")
    forged = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    assert browser.get(forged, follow_redirects=False).status_code == 400
    service = browser.app.state.service  # type: ignore[attr-defined]

    async def expire() -> None:
        async with service.db.session() as session:
            await session.execute(update(LoginToken).values(expires_at=LoginToken.created_at))
            await session.commit()

    browser.portal.call(expire)  # type: ignore[union-attr]
    expired = browser.get(link, follow_redirects=False)
    assert expired.status_code == 400
    assert "expired" in expired.json()["error"]["message"]


def test_sign_in_requests_are_rate_limited(browser: TestClient) -> None:
    codes = [
        browser.post("/api/v1/auth/magic-link", json={"email": "eve@example.com"}).status_code
        for _ in range(6)
    ]
    assert codes == [202] * 5 + [429]
    limited = browser.post("/api/v1/auth/magic-link", json={"email": "eve@example.com"})
    assert int(limited.headers["retry-after"]) > 0


def test_sign_out_ends_the_session_and_its_session_only_conversations(
    browser: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    browser.get(sign_in_link(browser, caplog, "fay@example.com"), follow_redirects=False)
    csrf = {"X-CSRF-Token": browser.get("/api/v1/auth/session").json()["csrf_token"]}
    browser.put("/api/v1/preferences", json={"data_retention": "session"}, headers=csrf)
    cid = browser.post(
        "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted"}, headers=csrf
    ).json()["id"]
    assert browser.post("/api/v1/auth/sign-out", headers=csrf).status_code == 204
    assert browser.get("/api/v1/conversations").status_code == 401
    browser.get(sign_in_link(browser, caplog, "fay@example.com"), follow_redirects=False)
    assert browser.get(f"/api/v1/conversations/{cid}").status_code == 404


def test_session_cookies_are_http_only_same_site_and_secure(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with make_client(database_url, tmp_path, secure=True) as client:
        opened = client.get(sign_in_link(client, caplog, "gil@example.com"), follow_redirects=False)
    cookies = opened.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("tt_session="))
    csrf = next(c for c in cookies if c.startswith("tt_csrf="))
    assert "HttpOnly" in session
    assert "Secure" in session
    assert "samesite=lax" in session.lower()
    assert "HttpOnly" not in csrf
    assert "samesite=strict" in csrf.lower()
