"""Defects a new user met in the first hour, over HTTP: error pages, the New form, Settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeServer
from tests.web.conftest import ui_client
from thinktank.library.loader import load_library

LIBRARY = load_library()


@pytest.fixture
def provider() -> FakeServer:
    return FakeServer()


@pytest.fixture
def ui(tmp_path: Path, provider: FakeServer) -> Iterator[TestClient]:
    with ui_client(tmp_path, provider) as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/c/not-a-conversation",
        "/c/00000000-0000-0000-0000-000000000000",
        "/compare/a/b",
        "/personas/nope/edit",
        "/no/such/page",
    ],
)
def test_unknown_pages_are_html_with_navigation(ui: TestClient, path: str) -> None:
    page = ui.get(path)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<nav aria-label="Main">' in page.text
    assert "Page not found" in page.text
    assert '"error"' not in page.text


def test_the_api_and_fragments_keep_their_json_errors(ui: TestClient) -> None:
    for path in ("/api/v1/conversations/nope", "/api/v1/nothing-here", "/ui/c/nope/sidebar"):
        answer = ui.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "not_found", path


def test_a_bad_query_on_a_page_is_a_page(ui: TestClient) -> None:
    page = ui.get("/history", params={"search": "x" * 500})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert '<nav aria-label="Main">' in page.text


def test_adjust_first_starts_the_template_as_ticked(ui: TestClient) -> None:
    for template in ("security-review", "startup-product-planning"):
        form = ui.get("/new", params={"template": template}).text
        ticked = re.findall(r'name="persona_ids" value="([^"]+)" checked', form)
        assert sorted(ticked) == sorted(LIBRARY.template(template).personas)
        estimate = ui.get("/ui/estimate", params={"template_id": template, "persona_ids": ticked}).text
        assert "twice" not in estimate
        assert "Estimated cost" in estimate
        started = ui.post("/ui/conversations", data={"template_id": template, "persona_ids": ticked})
        assert "twice" not in started.text
        cid = started.headers["HX-Redirect"].removeprefix("/c/")
        body = ui.get(f"/api/v1/conversations/{cid}").json()
        assert body["template_id"] == template
        ui.post(f"/api/v1/conversations/{cid}/stop")


def test_adjust_first_with_a_changed_panel_keeps_the_template_topic(ui: TestClient) -> None:
    template = LIBRARY.template("security-review")
    panel = [*template.personas[1:], "ux-designer"]
    started = ui.post(
        "/ui/conversations", data={"template_id": template.id, "persona_ids": panel, "run_mode": "manual"}
    )
    cid = started.headers["HX-Redirect"].removeprefix("/c/")
    body = ui.get(f"/api/v1/conversations/{cid}").json()
    assert sorted(m["persona_id"] for m in body["members"]) == sorted(panel)
    assert body["topic"] == template.initial_prompt
    assert body["mode"] == template.mode


def test_a_one_persona_panel_is_refused_at_the_panel_field(ui: TestClient) -> None:
    answer = ui.post("/ui/conversations", data={"persona_ids": ["cfo"], "topic": "Hire?"})
    assert "HX-Redirect" not in answer.headers
    slot = re.search(r'<p class="field-error" id="error-persona_ids"[^>]*>([^<]*)</p>', answer.text)
    assert slot is not None
    assert "at least 2" in slot.group(1)
    assert 'hx-swap-oob="true"' in answer.text
    estimate = ui.get("/ui/estimate", params={"persona_ids": ["cfo"], "topic": "Hire?"}).text
    assert "at least 2" in estimate


def test_form_errors_go_next_to_their_fields_and_clear_the_others(ui: TestClient) -> None:
    answer = ui.post("/ui/conversations", data={"persona_ids": ["cfo", "ux-designer"], "max_cost": "-1"})
    slots = dict(re.findall(r'id="error-([a-z_]+)"[^>]*>([^<]*)</p>', answer.text))
    assert slots["max_cost"]
    assert slots["topic"] == ""  # emptied, so an earlier message there goes away
    unknown = ui.post("/ui/conversations", data={"persona_ids": ["cfo", "nobody-here"], "topic": "Hire?"})
    slots = dict(re.findall(r'id="error-([a-z_]+)"[^>]*>([^<]*)</p>', unknown.text))
    assert "nobody-here" in slots["persona_ids"]


def test_new_form_counts_the_topic_and_searches_categories(ui: TestClient) -> None:
    page = ui.get("/new").text
    assert 'data-count="topic-count"' in page
    assert "0 / 2000 characters" in page
    cfo = LIBRARY.persona("cfo")
    item = page.split('value="cfo"')[0].rsplit("<li", 1)[1]
    assert cfo.category.lower() in item.split('data-search="')[1].split('"')[0]


def test_unknown_template_and_industry_say_so(ui: TestClient) -> None:
    page = ui.get("/new", params={"template": "security-reveiw"}).text
    assert "There is no template “security-reveiw”" in page
    assert 'href="/new?template=security-review"' in page
    nowhere = ui.get("/", params={"industry": "Nowhere"}).text
    assert "No template is filed under the industry “Nowhere”" in nowhere
    assert 'href="/?industry=' in nowhere


def test_settings_says_no_limit_instead_of_none(ui: TestClient) -> None:
    page = ui.get("/settings").text
    assert "Up to None" not in page
    assert "No limit on personas per conversation" in page


def unreachable(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def test_a_key_the_provider_cannot_check_is_a_message_at_the_field(
    ui: TestClient, provider: FakeServer
) -> None:
    provider.queue(unreachable, unreachable, unreachable)
    answer = ui.post("/ui/keys", data={"provider": "openai", "api_key": "sk-test-unreachable-0001"})
    assert answer.status_code == 200
    error = re.search(r'<p class="field-error" id="key-error"[^>]*>([^<]*)</p>', answer.text)
    assert error is not None
    assert "could not be reached" in error.group(1)
    assert "<option selected>openai</option>" in answer.text
    assert ui.get("/api/v1/keys").json() == []


def test_a_rejected_key_is_a_message_at_the_field_and_the_same_key_again_replaces_it(
    ui: TestClient, provider: FakeServer
) -> None:
    provider.queue(httpx2.Response(401, json={"error": {"message": "bad key"}}))
    rejected = ui.post("/ui/keys", data={"provider": "openai", "api_key": "sk-test-rejected-00001"})
    assert "rejected this key" in rejected.text
    provider.queue(httpx2.Response(200, json={"object": "list", "data": []}))
    stored = ui.post("/ui/keys", data={"provider": "openai", "api_key": "sk-test-accepted-00001"})
    assert 'id="key-error"' not in stored.text
    # One key per provider: the same key again is checked again and replaces the old row (issue 17:
    # fingerprints are per user), so it is not an error and never makes a second row.
    provider.queue(httpx2.Response(200, json={"object": "list", "data": []}))
    again = ui.post("/ui/keys", data={"provider": "openai", "api_key": "sk-test-accepted-00001"})
    assert 'id="key-error"' not in again.text
    assert [k["provider"] for k in ui.get("/api/v1/keys").json()] == ["openai"]


def test_whatever_the_key_store_raises_the_fragment_answers_with_a_message(
    ui: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ui.app.state.service  # type: ignore[attr-defined]

    async def broken(**_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(service.keystore, "add_user_key", broken)
    answer = ui.post("/ui/keys", data={"provider": "openai", "api_key": "sk-test-anything-0001"})
    assert answer.status_code == 200
    assert "problem on our side" in answer.text


def test_the_estimate_of_an_empty_new_form_asks_for_the_panel_the_form_asks_for(ui: TestClient) -> None:
    estimate = ui.get("/ui/estimate").text
    assert "at least 2" in estimate
    assert "at least one" not in estimate


def test_adjust_first_lists_the_templates_panel_first_so_it_is_seen_ticked(ui: TestClient) -> None:
    page = ui.get("/new", params={"template": "startup-product-planning"}).text
    boxes = re.findall(r'<input type="checkbox" name="persona_ids" value="[^"]*" ?(checked)?>', page)
    assert len(boxes) > 4
    assert [bool(ticked) for ticked in boxes[:4]] == [True] * 4
    assert not any(boxes[4:])


def test_the_estimate_sends_a_keyless_user_to_settings_not_to_environment_variables(ui: TestClient) -> None:
    estimate = ui.get("/ui/estimate", params={"template_id": "startup-product-planning"}).text
    assert "cannot be used here" in estimate
    assert "_API_KEY" not in estimate
    assert "key in Settings" in estimate
