"""Every page and fragment over HTTP (no browser): content, escaping, errors next to fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SECRET
from tests.fakes import FakeServer
from tests.web.conftest import conversation, ui_client
from thinktank.api.app import create_app
from thinktank.library.loader import load_library
from thinktank.settings import Settings

LIBRARY = load_library()


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[TestClient]:
    provider = FakeServer(always=lambda request: httpx2.Response(401, json={"error": {"message": "bad key"}}))
    with ui_client(tmp_path, provider) as client:
        yield client


PAGES = ["/", "/new", "/personas", "/personas/new", "/history", "/settings", "/costs"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_navigation(ui: TestClient, path: str) -> None:
    page = ui.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<nav aria-label="Main">' in page.text
    assert '<script src="/static/vendor/htmx.min.js"' in page.text


def test_scripts_and_styles_are_served(ui: TestClient) -> None:
    for path in ("/static/vendor/htmx.min.js", "/static/app.js", "/static/room.js", "/static/app.css"):
        assert ui.get(path).status_code == 200, path


def test_gallery_shows_every_template_with_its_estimate_and_filters_by_industry(ui: TestClient) -> None:
    page = ui.get("/").text
    for template in LIBRARY.templates.values():
        assert f'data-template="{template.id}"' in page
    # No keys here: what will run is free, and the personas' own models' cost stands beside it.
    assert re.search(r"est\. free here</span>\s*<span[^>]*>\(\$\d+\.\d{4} on their own models\)", page)
    healthcare = ui.get("/", params={"industry": "Healthcare"}).text
    assert healthcare.count('class="card template"') < page.count('class="card template"')


def test_one_click_start_runs_the_template(ui: TestClient) -> None:
    started = ui.post("/ui/start/startup-product-planning")
    assert started.status_code == 204
    cid = started.headers["HX-Redirect"].removeprefix("/c/")
    body = ui.get(f"/api/v1/conversations/{cid}").json()
    assert body["run_mode"] == "auto"
    assert body["template_id"] == "startup-product-planning"
    ui.put(f"/api/v1/conversations/{cid}/mode", json={"mode": "manual"})
    assert ui.post("/ui/start/no-such-template").status_code == 404


def test_user_text_is_escaped_everywhere(ui: TestClient) -> None:
    hostile = LIBRARY.persona("cfo").model_dump(mode="json") | {"id": "odd", "name": "<script>x()</script>"}
    assert ui.post("/api/v1/personas", json=hostile).status_code == 201
    cid = conversation(ui, persona_ids=["odd", "cfo"], topic="<img src=x onerror=alert(1)>")
    for path in ("/personas", f"/c/{cid}", "/history", f"/ui/c/{cid}/sidebar"):
        text = ui.get(path).text
        assert "<script>x()</script>" not in text, path
        assert "<img src=x" not in text, path
    assert "&lt;script&gt;x()&lt;/script&gt;" in ui.get(f"/c/{cid}").text


def test_room_renders_the_newest_page_and_loads_older_and_newer(ui: TestClient) -> None:
    cid = conversation(ui, turns=3)
    room = ui.get(f"/c/{cid}").text
    assert room.count('class="msg kind-') == 4  # the topic and three turns
    assert 'data-since="' in room
    attitudes = room.split('id="edit-attitude-cfo"')[1].split("</select>")[0]
    assert attitudes.count("<option") == 6, "the member editor offers every attitude"
    older = ui.get(f"/ui/c/{cid}/older", params={"before": 2}).text
    assert 'id="m-0"' in older
    assert 'id="m-1"' in older
    assert 'id="m-2"' not in older
    newer = ui.get(f"/ui/c/{cid}/newer", params={"after": 1}).text
    assert re.findall(r'id="m-(\d+)"', newer) == ["2", "3"]
    assert "Write the memo" in ui.get(f"/ui/c/{cid}/memo").text


def test_estimate_warns_about_personas_without_keys(ui: TestClient) -> None:
    fragment = ui.get("/ui/estimate", params={"persona_ids": ["cfo", "ux-designer"], "topic": "Pricing"}).text
    assert "Estimated cost" in fragment
    assert "cannot be used here" in fragment
    assert "it will use scripted instead" in fragment
    unknown = ui.get("/ui/estimate", params={"persona_ids": ["cfoo"], "topic": "Pricing"}).text
    assert 'class="warn"' in unknown
    assert "cfo" in unknown


def test_new_conversation_form_reports_problems_then_starts(ui: TestClient) -> None:
    missing = ui.post("/ui/conversations", data={"persona_ids": ["cfo", "ux-designer"], "max_cost": "-1"})
    assert re.search(r'id="error-max_cost"[^>]*>[^<]+</p>', missing.text)
    assert "HX-Redirect" not in missing.headers
    no_topic = ui.post("/ui/conversations", data={"persona_ids": ["cfo", "ux-designer"]})
    assert re.search(r'id="error-topic"[^>]*>give a topic', no_topic.text)
    started = ui.post(
        "/ui/conversations",
        data={"persona_ids": ["cfo", "ux-designer"], "topic": "Hire?", "run_mode": "manual", "speed": "7"},
    )
    assert started.headers["HX-Redirect"].startswith("/c/")
    cid = started.headers["HX-Redirect"].removeprefix("/c/")
    assert ui.get(f"/api/v1/conversations/{cid}").json()["speed"] == 7


def builder_form(**changes: str) -> dict[str, str]:
    cfo = LIBRARY.persona("cfo")
    form = {
        "id": "night-nurse",
        "name": "Night Nurse",
        "role": "Charge nurse",
        "category": "Healthcare",
        "description": "Runs the night shift.",
        "model": "scripted",
        "demographics.age": "44",
        "demographics.education": "BSN",
        "demographics.location": "Leeds",
        "personality.traits": "steady, blunt",
        "personality.communication": "direct",
        "personality.decision_making": "safety first",
        "expertise": "triage, staffing",
        "experience_level": "Expert",
        "attitude": "Skeptical",
        "system_prompt": cfo.system_prompt,
        "avatar.emoji": "🩺",
        "avatar.color": "#0ea5e9",
    }
    return form | changes


def test_builder_puts_each_error_next_to_its_field_and_keeps_what_was_typed(ui: TestClient) -> None:
    broken = builder_form(**{"demographics.age": "9", "system_prompt": "Too short."})
    answer = ui.post("/ui/personas", data=broken)
    assert "HX-Redirect" not in answer.headers
    assert 'id="e-demographics.age"' in answer.text
    assert 'id="e-system_prompt"' in answer.text
    assert 'value="Night Nurse"' in answer.text
    created = ui.post("/ui/personas", data=builder_form())
    assert created.headers["HX-Redirect"] == "/personas#mine-night-nurse"
    assert ui.get("/api/v1/personas/night-nurse").json()["source"] == "mine"
    duplicate = ui.post("/ui/personas", data=builder_form())
    assert 'id="e-id"' in duplicate.text
    edited = ui.post("/ui/personas", data=builder_form(editing="night-nurse", attitude="Supportive"))
    assert edited.headers["HX-Redirect"] == "/personas#mine-night-nurse"
    assert ui.get("/api/v1/personas/night-nurse").json()["persona"]["attitude"] == "Supportive"
    renamed = ui.post("/ui/personas", data=builder_form(editing="night-nurse", id="day-nurse"))
    assert "cannot change" in renamed.text
    assert ui.get("/personas/night-nurse/edit").status_code == 200
    assert ui.get("/personas/cfo/edit").status_code == 404  # library personas are duplicated, not edited
    assert 'value="cfo-copy"' in ui.get("/personas/new", params={"from": "cfo"}).text
    assert ui.delete("/ui/personas/night-nurse").status_code == 200
    assert ui.get("/api/v1/personas/night-nurse").status_code == 404


def test_builder_offers_only_models_that_can_be_called(ui: TestClient) -> None:
    page = ui.get("/personas/new").text
    picker = page.split('id="f-model"')[1].split("</select>")[0]
    assert ">scripted</option>" in picker
    assert "anthropic:" not in picker


def test_preview_shows_the_system_prompt_even_for_a_draft(ui: TestClient) -> None:
    draft = {"name": "Half", "role": "Done", "system_prompt": "Be brief."}
    preview = ui.post("/ui/personas/preview", data=draft)
    assert "Be brief." in preview.text
    assert "Speak only as Half (Done)" in preview.text


def test_history_search_and_delete(ui: TestClient) -> None:
    keep = conversation(ui, topic="Open a Berlin office?", turns=1)
    drop = conversation(ui, topic="Rename the product?", turns=1)
    rows = ui.get("/ui/history", params={"search": "Berlin"}).text
    assert keep in rows
    assert drop not in rows
    assert "No conversation matches" in ui.get("/ui/history", params={"search": "zzz"}).text
    assert ui.delete(f"/ui/conversations/{drop}").status_code == 200
    assert ui.get(f"/api/v1/conversations/{drop}").status_code == 404
    assert keep in ui.get("/history").text


def test_settings_keys_preferences_and_budget(ui: TestClient) -> None:
    rejected = ui.post("/ui/keys", data={"provider": "openai", "api_key": "sk-not-a-real-key-000"})
    assert 'id="key-error"' in rejected.text
    assert ui.get("/api/v1/keys").json() == []
    short = ui.post("/ui/keys", data={"provider": "openai", "api_key": "abc"})
    assert "whole key" in short.text
    unknown = ui.post("/ui/keys", data={"provider": "nope", "api_key": "abcdefghijk"})
    assert 'id="key-error"' in unknown.text
    bad_days = ui.post("/ui/preferences", data={"data_retention": "permanent", "delete_after_days": "0"})
    assert 'id="days-error"' in bad_days.text
    saved = ui.post("/ui/preferences", data={"data_retention": "session", "delete_after_days": "30"})
    assert "Saved." in saved.text
    assert ui.get("/api/v1/preferences").json()["delete_after_days"] == 30
    settings = ui.get("/settings").text
    assert "Tokens today" in settings
    assert "Spend this month" in settings


def test_costs_page_charts_and_table(ui: TestClient) -> None:
    assert "Nothing spent yet." in ui.get("/costs").text
    cid = conversation(ui, turns=2)
    page = ui.get("/costs").text
    assert page.count('<svg class="chart"') + page.count("Nothing spent yet.") >= 3
    assert f'href="/c/{cid}"' in page


def test_compare_page_waits_for_a_running_rerun(ui: TestClient) -> None:
    cid = conversation(ui, turns=2, max_messages=4)
    rerun = ui.post(f"/api/v1/conversations/{cid}/rerun", json={"seed": 5}).json()["id"]
    page = ui.get(f"/compare/{cid}/{rerun}").text
    assert 'hx-trigger="every 2s"' in page or page.count('class="recommendation"') == 2


def test_multi_user_pages_send_strangers_to_sign_in(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        data_dir=tmp_path / "d",
        auth="multi",
        secret_key=SECRET,
    )
    with TestClient(create_app(settings), follow_redirects=False, base_url="http://127.0.0.1") as client:
        page = client.get("/history")
        assert page.status_code == 303
        assert page.headers["location"] == "/signin?next=/history"
        signin = client.get("/signin", params={"next": "//evil.example"}).text
        assert 'data-next="/"' in signin
        assert client.get("/ui/history").status_code == 401


def test_a_run_that_stopped_on_its_own_shows_why_above_the_continue_form(ui: TestClient) -> None:
    from thinktank.store.repository import LOCAL_USER_ID

    cid = conversation(ui, turns=1)
    service = ui.app.state.service  # type: ignore[attr-defined]
    reason = "paused after 3 turns in a row produced no reply"

    async def stall() -> None:
        live = await service._live(user_id=LOCAL_USER_ID, conversation_id=cid)
        await live.engine._set_status("paused", reason)

    ui.portal.call(stall)  # type: ignore[union-attr]
    state = ui.get(f"/api/v1/conversations/{cid}").json()
    assert (state["status"], state["stop_reason"]) == ("paused", reason), "the API says why"
    banner = ui.get(f"/c/{cid}").text.split('id="stall"')[1].split("</div>")[0]
    assert "hidden" not in banner.split(">")[0]
    assert reason in banner
    assert 'id="continue-form"' in ui.get(f"/c/{cid}").text, "one way on: the Continue form below it"
    assert ui.post(f"/api/v1/conversations/{cid}/resume").status_code == 204

    assert ui.post(f"/api/v1/conversations/{cid}/pause").status_code == 204
    by_user = ui.get(f"/c/{cid}").text.split('id="stall"')[1].split(">")[0]
    assert "hidden" in by_user, "a pause the user asked for needs no explanation"
