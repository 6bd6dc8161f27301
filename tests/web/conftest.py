"""A real server process and a real headless Chromium for the browser tests, with every page's
console errors collected and screenshots saved under test-artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeServer
from tests.server_process import ServerProcess, running_server
from tests.services import _missing
from thinktank.api.app import create_app
from thinktank.models.keys import ENV_VARS, OPENAI_COMPATIBLE_BASE_URL_VAR
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings

CHROMIUM = Path(os.environ.get("THINKTANK_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install chromium)"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


def server_env() -> dict[str, str]:
    """No provider keys reach the server: every persona runs on the scripted stand-in."""
    blank = {var: "" for names in ENV_VARS.values() for var in names} | {OPENAI_COMPATIBLE_BASE_URL_VAR: ""}
    return {**blank, "THINKTANK_SUBSTITUTE_MODEL": "scripted", "THINKTANK_COOKIE_SECURE": "0"}


@pytest.fixture
def web_database(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"


@pytest.fixture
def web(web_database: str) -> Iterator[ServerProcess]:
    with running_server(database_url=web_database, latency="0.3", extra_env=server_env()) as server:
        yield server


@dataclass
class Console:
    errors: list[str] = field(default_factory=list)


@dataclass
class Browsing:
    page: Any
    base: str
    console: Console

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None, path
        assert response.ok, f"{path}: {response.status}"
        return response

    def screenshots(self, name: str) -> None:
        """The page as it is now, at desktop width and at 375 px."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("375px", PHONE)):
            self.page.set_viewport_size(size)
            self.page.wait_for_timeout(150)
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=False)
        self.page.set_viewport_size(DESKTOP)


@contextmanager
def browsing(browser: Any, base: str) -> Iterator[Browsing]:
    """A fresh browser context on `base`; it fails the test if the console logged an error."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console()
    page.on("console", lambda msg: console.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: console.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(15_000)
    try:
        yield Browsing(page, base, console)
        assert console.errors == [], f"errors in the browser console: {console.errors}"
    finally:
        context.close()


@pytest.fixture
def browse(browser: Any, web: ServerProcess) -> Iterator[Browsing]:
    with browsing(browser, web.url) as session:
        yield session


@contextmanager
def ui_client(tmp_path: Path, provider: FakeServer | None = None) -> Iterator[TestClient]:
    """The app in-process (no server, no browser), every persona on the scripted model; provider
    calls (key checks) go to `provider`."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'ui.db'}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "data",
        substitute_model="scripted",
    )
    http_client = provider.client() if provider is not None else None
    # The loopback host: local mode refuses any other Host (DNS rebinding).
    with TestClient(create_app(settings, http_client=http_client), base_url="http://127.0.0.1") as client:
        yield client


def conversation(client: TestClient, turns: int = 2, **body: object) -> str:
    """A conversation on the scripted model with `turns` turns taken."""
    payload = {"topic": "Ship the beta?", "persona_ids": ["cfo", "ux-designer"], "model": "scripted", **body}
    cid: str = client.post("/api/v1/conversations", json=payload).json()["id"]
    for _ in range(turns):
        assert client.post(f"/api/v1/conversations/{cid}/turns").status_code == 200
    return cid
