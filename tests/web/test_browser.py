"""The web UI in a real browser (Debian's Chromium, headless) against `thinktank serve` on loopback,
every persona on the scripted model."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import Browsing

pytestmark = pytest.mark.browser


def transcript(page: Any) -> list[tuple[str, str]]:
    """Every finished message on the page: (element id, text)."""
    return page.eval_on_selector_all(
        "#messages article.msg[data-index]",
        "els => els.map(e => [e.id, e.querySelector('.text').textContent])",
    )


def persona_messages(page: Any) -> Any:
    return page.locator("#messages article.msg.kind-persona[data-index]")


def test_start_watch_steer_and_reload(browse: Browsing) -> None:
    page = browse.page
    browse.go("/")
    browse.screenshots("gallery")
    page.locator('[data-template="startup-product-planning"] button', has_text="Start").click()
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]+$"))
    page.fill("#speed-control", "10")  # 1 s between turns
    page.locator(".msg.streaming").first.wait_for()  # words arrive while a persona speaks
    persona_messages(page).nth(2).wait_for()
    assert page.locator("#status").inner_text().startswith("running")
    assert page.locator("#costbar [data-cost=tokens]").inner_text() != "0"

    page.fill("#interjection", "What about accessibility for screen-reader users?")
    page.press("#interjection", "Enter")
    page.locator("#messages .msg.kind-user", has_text="screen-reader").wait_for()

    page.get_by_role("button", name="Manual").click()
    page.wait_for_function("document.querySelector('[data-run-mode=manual]').ariaPressed === 'true'")
    page.wait_for_selector(".msg.streaming", state="detached")
    count = persona_messages(page).count()
    page.select_option("#next-speaker", "end-user")
    page.click("#next-turn")
    persona_messages(page).nth(count).wait_for()
    assert persona_messages(page).nth(count).get_attribute("data-speaker") == "end-user"

    page.select_option("#add-persona", "security-expert")
    page.locator("#add-member button").click()
    page.locator("#member-security-expert").wait_for()
    browse.screenshots("room")

    page.click("#stop")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('stopped')")
    before = transcript(page)
    page.reload()
    page.locator("#messages article.msg[data-index]").first.wait_for()
    assert transcript(page) == before
    assert page.locator("#member-security-expert").count() == 1
