"""The web UI in a real browser (Debian's Chromium, headless) against `thinktank serve` on loopback,
every persona on the scripted model."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import ServerProcess, running_server
from tests.web.conftest import Browsing, server_env
from tests.web.seed import long_conversation
from thinktank.library.loader import load_library

LIBRARY = load_library()

pytestmark = pytest.mark.browser


def transcript(page: Any) -> list[tuple[str, str]]:
    """Every finished message on the page: (element id, text)."""
    rows: list[tuple[str, str]] = page.eval_on_selector_all(
        "#messages article.msg[data-index]",
        "els => els.map(e => [e.id, e.querySelector('.text').textContent])",
    )
    return rows


def persona_messages(page: Any) -> Any:
    return page.locator("#messages article.msg.kind-persona[data-index]")


def test_start_watch_steer_and_reload(browse: Browsing) -> None:
    page = browse.page
    browse.go("/")
    browse.screenshots("gallery")
    page.locator('[data-template="startup-product-planning"] button', has_text="Start").click()
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]+$"))
    page.fill("#speed-control", "10")  # 1 s between turns
    page.locator(".msg.streaming").first.wait_for(timeout=60_000)  # words arrive while a persona speaks
    # Four of the template's personas fall back to the bundled local model (no key here): on a busy
    # machine its replies take seconds each.
    persona_messages(page).nth(2).wait_for(timeout=90_000)
    assert page.locator("#status").inner_text().startswith("running")
    assert page.locator("#costbar [data-cost=tokens]").inner_text() != "0"

    page.fill("#interjection", "What about accessibility for screen-reader users?")
    page.press("#interjection", "Enter")
    page.locator("#messages .msg.kind-user", has_text="screen-reader").wait_for()

    page.get_by_role("button", name="Manual").click()
    page.wait_for_function("document.querySelector('button[data-run-mode=manual]').ariaPressed === 'true'")
    page.wait_for_selector(".msg.streaming", state="detached")
    count = persona_messages(page).count()
    page.select_option("#next-speaker", "end-user")
    page.click("#next-turn")
    persona_messages(page).nth(count).wait_for(timeout=60_000)
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


@pytest.fixture
def long_conversation_id(web_database: str, tmp_path: Path) -> str:
    return long_conversation(web_database, tmp_path / "seed-data", messages=2000)


def test_a_2000_message_conversation_opens_and_scrolls(long_conversation_id: str, browse: Browsing) -> None:
    page = browse.page
    started = time.monotonic()
    browse.go(f"/c/{long_conversation_id}")
    page.locator("#m-1999").wait_for()
    opened = time.monotonic() - started
    # Only the newest page is in the document; older ones load as the reader scrolls up.
    assert page.locator("#messages article.msg").count() == 50
    for oldest in (1949, 1899, 1849):
        page.eval_on_selector("#messages", "el => { el.scrollTop = 0; }")
        page.locator(f"#m-{oldest}").wait_for()
    # Still at the top, the next page may already be on its way: 200 or more, but never a gap or twice.
    shown = page.eval_on_selector_all("#messages article.msg", "els => els.map(e => +e.dataset.index)")
    assert len(shown) >= 200
    assert shown == list(range(2000 - len(shown), 2000))
    print(f"2,000-message room opened in {opened:.2f} s")


def test_builder_errors_next_to_the_field_then_the_persona_speaks(browse: Browsing) -> None:
    page = browse.page
    browse.go("/personas/new")
    fields = {
        "#f-id": "harbour-pilot",
        "#f-name": "Ines Duarte",
        "#f-role": "Harbour Pilot",
        "#f-category": "Operations",
        "[id='f-description']": "Guides container ships into port; thinks in tides and margins.",
        "[id='f-demographics.age']": "212",
        "[id='f-demographics.education']": "Nautical academy",
        "[id='f-demographics.location']": "Lisbon",
        "[id='f-personality.traits']": "calm, exacting",
        "[id='f-personality.communication']": "short radio-style sentences",
        "[id='f-personality.decision_making']": "margins first",
        "#f-expertise": "navigation, tides, port safety",
        "[id='f-avatar.emoji']": "⚓",
        "#f-system_prompt": " ".join(
            ["You are a harbour pilot who plans for the worst tide and the widest ship."] * 8
        ),
    }
    for selector, value in fields.items():
        page.fill(selector, value)
    page.select_option("#f-model", "scripted")
    page.select_option("#f-experience_level", "Expert")
    page.select_option("#f-attitude", "Skeptical")
    page.locator("#preview pre", has_text="harbour pilot").wait_for()
    page.click("#persona-form button[type=submit]")
    error = page.locator("[id='e-demographics.age']")
    error.wait_for()
    assert "110" in error.inner_text()
    assert page.locator("[id='f-demographics.age']").get_attribute("aria-invalid") == "true"
    browse.screenshots("persona-builder")

    page.fill("[id='f-demographics.age']", "52")
    page.click("#persona-form button[type=submit]")
    page.wait_for_url(re.compile(r"/personas(#.*)?$"))
    page.locator("#mine-harbour-pilot").wait_for()
    browse.screenshots("personas")

    page.locator("#mine-harbour-pilot a", has_text="Use").click()
    page.wait_for_url(re.compile(r"/new\?persona=harbour-pilot"))
    assert page.locator("input[value=harbour-pilot]").is_checked()
    page.check("input[value=cfo]")
    page.fill("#topic", "Should the port run night-time arrivals for the largest ships?")
    page.select_option("#run_mode", "manual")
    page.locator("#estimate", has_text="Estimated cost").wait_for()
    browse.screenshots("new-conversation")
    page.click("#new-form button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]+$"))
    page.select_option("#next-speaker", "harbour-pilot")
    page.click("#next-turn")
    spoken = page.locator("#messages article.msg[data-speaker=harbour-pilot][data-index]")
    spoken.wait_for()
    assert "Harbour Pilot" in spoken.inner_text()


def api(browse: Browsing, method: str, path: str, body: object = None) -> Any:
    response = browse.page.request.fetch(
        browse.base + "/api/v1" + path, method=method, data=body if body is not None else None
    )
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 else None


def test_memo_forks_reruns_and_every_page(browse: Browsing) -> None:
    page = browse.page
    hostile = {
        **LIBRARY.persona("cfo").model_dump(mode="json"),
        "id": "odd-name",
        "name": "<script>alert(1)</script>",
    }
    api(browse, "POST", "/personas", hostile)
    created = api(
        browse,
        "POST",
        "/conversations",
        {
            "topic": "Should we sell <b>bold</b> plans?",
            "persona_ids": ["odd-name", "cfo", "growth-marketer"],
            "speed": 10,
        },
    )
    cid = created["id"]
    for _ in range(4):
        api(browse, "POST", f"/conversations/{cid}/turns", {})

    browse.go("/personas")
    page.get_by_text("<script>alert(1)</script>").first.wait_for()
    browse.go(f"/c/{cid}")
    assert page.locator("#member-odd-name strong").inner_text() == "<script>alert(1)</script>"

    page.get_by_role("button", name="Decision memo").click()
    page.select_option("#memo-chair", "scripted")
    page.locator("#memo-form button[type=submit]").click()
    page.locator("#memo .recommendation").wait_for()
    browse.screenshots("memo")
    cite = page.locator("#memo .cite").first
    cited = cite.get_attribute("data-cite")
    cite.click()
    page.locator(f"#m-{cited}.highlight").wait_for()

    page.locator("#m-2 .fork-here").click()
    page.uncheck("#fork-form input[value=odd-name]")
    page.select_option("#fork-mode", "debate")
    page.locator("#fork-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/c/(?!" + cid + r")[0-9a-f-]+$"))
    fork_url = page.url
    assert [m[0] for m in transcript(page)] == ["m-0", "m-1", "m-2"]
    page.locator(".tree a", has_text="bold").click()
    page.wait_for_url(browse.base + f"/c/{cid}")
    page.locator(".tree a").first.wait_for()
    assert page.locator(".tree li li").count() == 1

    page.select_option("#rerun-change", "seed")
    page.fill("#rerun-seed", "4242")
    page.locator("#rerun-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/compare/"))
    page.locator("#compare.compare").wait_for(timeout=60_000)
    assert page.locator("#compare .recommendation").count() == 2
    assert "seed: 4242" in page.locator("#compare").inner_text()
    browse.screenshots("compare")

    browse.go("/history")
    page.fill("#history-search", "bold")
    page.wait_for_function("document.querySelectorAll('#history-rows tr').length === 3")
    browse.screenshots("history")
    page.locator(f"#row-{fork_url.rsplit('/', 1)[1]} button", has_text="Delete").click()
    page.wait_for_function("document.querySelectorAll('#history-rows tr').length === 2")

    browse.go("/costs")
    assert page.locator(".charts figure").count() == 3
    assert page.locator(".charts figure svg.chart, .charts figure .empty").count() == 3
    browse.screenshots("costs")
    for name, path in (("settings", "/settings"), ("new-empty", "/new")):
        browse.go(path)
        browse.screenshots(name)


def test_reconnects_after_the_server_drops_without_gaps_or_duplicates(
    browse: Browsing, web: ServerProcess, web_database: str
) -> None:
    page = browse.page
    body = {"topic": "Four-day week?", "persona_ids": ["cfo", "operations-manager"], "max_messages": 12}
    cid = api(browse, "POST", "/conversations", body | {"turn_delay": 0.2})["id"]
    browse.go(f"/c/{cid}")
    api(browse, "PUT", f"/conversations/{cid}/mode", {"mode": "auto"})
    persona_messages(page).nth(1).wait_for()
    web.kill()  # the connection drops mid-discussion
    page.locator("#connection").wait_for()  # the page says it is reconnecting
    port = int(web.url.rsplit(":", 1)[1])
    with running_server(database_url=web_database, latency="0.3", port=port, extra_env=server_env()):
        page.locator("#connection").wait_for(state="hidden", timeout=30_000)
        api(browse, "POST", f"/conversations/{cid}/resume")  # a crash leaves it paused, never "running"
        api(browse, "PUT", f"/conversations/{cid}/mode", {"mode": "auto"})
        page.wait_for_function(
            "document.getElementById('status').textContent.startsWith('finished')", timeout=60_000
        )
        stored = api(browse, "GET", f"/conversations/{cid}/messages?limit=100")["items"]
        expected = [f"m-{m['index']}" for m in stored]
        assert len(expected) >= 12
        page.wait_for_function(
            f"document.querySelectorAll('#messages article.msg[data-index]').length === {len(expected)}"
        )
        assert [element_id for element_id, _ in transcript(page)] == expected
        assert page.locator(".msg.streaming").count() == 0
    # The browser logs the cut stream and its refused reconnects while the server is down; nothing else.
    network = [e for e in browse.console.errors if "net::ERR_" in e]
    assert any("ERR_CONNECTION_REFUSED" in e for e in network)
    browse.console.errors[:] = [e for e in browse.console.errors if e not in network]
