"""The first hour in a real browser: the room on a phone, Adjust first, Settings' key error, the
HTML 404, Continue, Markdown that stays inert, a reply that survives a reload, the memo that
arrives by itself and a conversation deleted elsewhere. Every persona runs on the scripted model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import running_server
from tests.web.conftest import PHONE, Browsing, browsing, server_env
from tests.web.seed import long_conversation

pytestmark = pytest.mark.browser


def api(browse: Browsing, method: str, path: str, body: object = None) -> Any:
    response = browse.page.request.fetch(browse.base + "/api/v1" + path, method=method, data=body)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.text() else None


def scripted(browse: Browsing, **body: object) -> str:
    """A manual conversation with everyone on the scripted model (fast, offline)."""
    payload = {"topic": "Open a Berlin office?", "persona_ids": ["cfo", "ux-designer"], "model": "scripted"}
    cid: str = api(browse, "POST", "/conversations", payload | body)["id"]
    return cid


def status(page: Any) -> str:
    return str(page.locator("#status").inner_text())


def test_the_panel_at_375_px_opens_below_its_toggle_and_closes(browse: Browsing) -> None:
    page = browse.page
    cid = scripted(browse)
    page.set_viewport_size(PHONE)
    browse.go(f"/c/{cid}")
    sidebar = page.locator("#sidebar")
    assert not sidebar.is_visible()
    toggle = page.locator(".sidebar-toggle")
    toggle.click()
    sidebar.wait_for()
    assert toggle.get_attribute("aria-expanded") == "true"
    # The opened panel leaves its toggle uncovered: the toggle is what is under its own centre.
    box = toggle.bounding_box()
    assert box is not None
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('.sidebar-toggle') !== null",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top
    assert page.locator("[data-close-sidebar]").is_visible()
    page.keyboard.press("Escape")
    sidebar.wait_for(state="hidden")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    sidebar.wait_for()
    page.locator("[data-close-sidebar]").click()
    sidebar.wait_for(state="hidden")
    toggle.click()
    toggle.click()  # the toggle closes it too
    sidebar.wait_for(state="hidden")

    browse.go("/history")  # still at 375 px: every row's actions are on the screen
    for name in ("Markdown", "Delete"):
        box = page.locator(f"#row-{cid}").get_by_text(name, exact=True).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"], name


def test_adjust_first_starts_the_template(browse: Browsing) -> None:
    page = browse.page
    browse.go("/")
    page.locator('[data-template="security-review"] a', has_text="Adjust first").click()
    page.wait_for_url(re.compile(r"/new\?template=security-review$"))
    page.locator("#estimate", has_text="Estimated cost").wait_for()
    assert "twice" not in page.locator("#estimate").inner_text()
    page.select_option("#run_mode", "manual")
    page.select_option("#model", "scripted")
    page.click("#new-form button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]+$"))
    assert page.locator(".members .member").count() == 3


def test_a_one_persona_panel_is_refused_at_the_panel(browse: Browsing) -> None:
    page = browse.page
    browse.go("/new")
    page.fill("#topic", "x" * 2100)
    assert "2000 / 2000" in page.locator("#topic-count").inner_text()
    page.fill("#persona-search", "finance")  # a category, not a name
    page.locator("#persona-list li:not([hidden])", has_text="Grace Liu").first.wait_for()
    page.check("input[value=cfo]")
    page.click("#new-form button[type=submit]")
    error = page.locator("#error-persona_ids")
    error.wait_for()
    assert "at least 2" in error.inner_text()
    assert page.url.endswith("/new")


@pytest.fixture
def browse_unreachable(browser: Any, web_database: str) -> Iterator[Browsing]:
    """A server whose OpenAI requests go to a closed port: the provider cannot be reached."""
    env = server_env() | {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    with (
        running_server(database_url=web_database, extra_env=env) as server,
        browsing(browser, server.url) as b,
    ):
        yield b


def test_a_key_the_provider_cannot_check_is_explained_at_the_field(browse_unreachable: Browsing) -> None:
    browse = browse_unreachable
    page = browse.page
    browse.go("/settings")
    page.select_option("#key-provider", "openai")
    page.fill("#key-value", "sk-test-never-reaches-0001")
    page.click("#keys button[type=submit]")
    error = page.locator("#key-error")
    error.wait_for()
    assert "could not be reached" in error.inner_text()
    assert page.locator("#key-value").get_attribute("aria-invalid") == "true"
    browse.screenshots("settings-key-error")


def test_an_unknown_page_is_a_page_with_a_way_on(browse: Browsing) -> None:
    page = browse.page
    for path in ("/c/no-such-conversation", "/somewhere/else"):
        response = page.goto(browse.base + path)
        assert response is not None
        assert response.status == 404
        page.get_by_role("heading", name="Page not found").wait_for()
    browse.screenshots("not-found")
    page.get_by_role("link", name="Templates").first.click()
    page.wait_for_url(browse.base + "/")
    browse.console.errors[:] = [e for e in browse.console.errors if "404" not in e]


def test_continue_a_finished_discussion(browse: Browsing) -> None:
    page = browse.page
    cid = scripted(browse, max_messages=1)
    api(browse, "POST", f"/conversations/{cid}/turns", {})
    browse.go(f"/c/{cid}")
    assert status(page).startswith("finished")
    assert page.locator("#next-turn").is_hidden()
    form = page.locator("#continue-form")
    assert form.is_visible()
    page.fill("#continue-messages", "2")
    page.select_option("#continue-mode", "manual")
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('idle')")
    assert "continued for 2 more messages" in status(page)
    assert page.locator("#next-turn").is_enabled()
    assert page.locator("#pause").is_disabled()
    page.click("#next-turn")
    page.locator("#messages article.msg.kind-persona[data-index]").nth(1).wait_for()
    page.locator("#next-turn:enabled").click()
    page.locator("#messages article.msg.kind-persona[data-index]").nth(2).wait_for()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('finished')")
    assert page.locator("#continue-form").is_visible()


HOSTILE = "Plan: <script>window.hacked = 1</script> **bold move** and [x](javascript:window.hacked=2)"


@pytest.fixture
def hostile_conversation(web_database: str, tmp_path: Path) -> str:
    return long_conversation(
        web_database, tmp_path / "seed-data", messages=3, say=lambda index, name: f"{HOSTILE} #{index}"
    )


def test_a_reply_is_markdown_and_its_html_stays_inert(hostile_conversation: str, browse: Browsing) -> None:
    page = browse.page
    browse.go(f"/c/{hostile_conversation}")
    reply = page.locator("#m-2 .text")
    assert reply.locator("strong", has_text="bold move").count() == 1
    assert reply.locator("script").count() == 0
    assert reply.locator("a").count() == 0  # the javascript: link is text, not a link
    assert "<script>window.hacked = 1</script>" in reply.inner_text()
    page.locator("#m-2 .text").click()
    assert page.evaluate("window.hacked === undefined")


@pytest.fixture
def browse_slow(browser: Any, web_database: str) -> Iterator[Browsing]:
    """Replies take eight seconds to stream, long enough to reload in the middle of one."""
    env = server_env()
    with (
        running_server(database_url=web_database, latency="8", extra_env=env) as server,
        browsing(browser, server.url) as b,
    ):
        yield b


def test_the_words_so_far_survive_a_reload_mid_reply(browse_slow: Browsing) -> None:
    browse = browse_slow
    page = browse.page
    cid = scripted(browse)
    browse.go(f"/c/{cid}")
    page.click("#next-turn")
    streaming = page.locator(".msg.streaming .text")
    page.wait_for_function(
        "(document.querySelector('.msg.streaming .text') || {}).textContent?.split(' ').length > 4"
    )
    before = streaming.inner_text()
    page.reload()
    page.wait_for_function(
        "(n) => (document.querySelector('.msg.streaming .text') || {}).textContent?.length >= n",
        arg=len(before),
    )
    assert streaming.inner_text().startswith(before)
    page.locator("#messages article.msg.kind-persona[data-index]").wait_for(timeout=30_000)
    assert page.locator(".msg.streaming").count() == 0


def test_the_memo_written_at_the_end_appears_in_the_open_room(browse: Browsing) -> None:
    page = browse.page
    cid = scripted(browse, max_messages=2, turn_delay=0.2)
    browse.go(f"/c/{cid}")
    page.get_by_role("button", name="Auto").click()
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('finished')", timeout=30_000
    )
    page.get_by_role("button", name="Decision memo").click()
    # While it is written, the dialog offers no second (paid) memo; then it is there, no reload.
    page.locator("#memo .recommendation").wait_for(timeout=30_000)
    assert page.locator("#memo-form button", has_text="Write the memo").count() == 0
    assert api(browse, "GET", f"/conversations/{cid}/memo")["model_id"]


def test_a_conversation_deleted_elsewhere_says_so(browse: Browsing) -> None:
    page = browse.page
    cid = scripted(browse)
    browse.go(f"/c/{cid}")
    page.locator("#next-turn:enabled").wait_for()
    api(browse, "DELETE", f"/conversations/{cid}")
    # The live stream says so at once (nothing to click); an action taken before it arrives would
    # answer 404 and say the same.
    page.locator("#deleted-notice").wait_for()
    assert status(page).startswith("deleted")
    assert page.locator("#run-controls").is_hidden()
    assert page.locator("#interjection").is_disabled()
    # The action's 404 and the live stream's refused reconnects are expected here.
    browse.console.errors[:] = [e for e in browse.console.errors if "404" not in e]


def test_an_action_on_a_conversation_deleted_elsewhere_says_so(browse: Browsing) -> None:
    """Without the live stream's word (it never connects here), the action's 404 says it."""
    page = browse.page
    page.route("**/events?*", lambda route: route.abort())
    cid = scripted(browse)
    browse.go(f"/c/{cid}")
    page.locator("#next-turn:enabled").wait_for()
    api(browse, "DELETE", f"/conversations/{cid}")
    page.click("#next-turn")
    page.locator("#deleted-notice").wait_for()
    assert status(page).startswith("deleted")
    assert page.locator("#interjection").is_disabled()
    browse.console.errors[:] = [e for e in browse.console.errors if "404" not in e and "ERR_FAILED" not in e]
