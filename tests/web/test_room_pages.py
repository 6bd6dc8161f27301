"""The room and its neighbours over HTTP: Markdown, controls that follow state, Continue, the
panel's cards, forks and reruns, compare and costs labels, the nav."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import conversation, ui_client


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[TestClient]:
    with ui_client(tmp_path) as client:
        yield client


def test_messages_are_markdown_and_raw_html_never_reaches_the_page(ui: TestClient) -> None:
    cid = conversation(ui, turns=0)
    text = "**Ship it** <script>alert(1)</script> [x](javascript:alert(2)) [docs](https://example.com)"
    assert ui.post(f"/api/v1/conversations/{cid}/messages", json={"text": text}).status_code == 201
    room = ui.get(f"/c/{cid}").text
    message = room.split('id="m-1"')[1].split("</article>")[0]
    assert "<strong>Ship it</strong>" in message
    assert "<script>" not in message
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message
    assert 'href="javascript' not in message
    assert 'href="https://example.com" rel="nofollow noopener noreferrer" target="_blank"' in message


def test_the_room_carries_its_state_for_the_controls(ui: TestClient) -> None:
    cid = conversation(ui, turns=1, max_messages=1)
    room = ui.get(f"/c/{cid}").text
    assert 'data-status="finished"' in room
    assert 'data-run-mode="manual"' in room
    assert 'id="continue-form"' in room
    assert 'data-fresh-fork="false"' in room


def test_a_fresh_fork_says_what_to_do_next(ui: TestClient) -> None:
    cid = conversation(ui, turns=2)
    fork = ui.post(f"/api/v1/conversations/{cid}/fork", json={"at_index": 1}).json()["id"]
    assert 'data-fresh-fork="true"' in ui.get(f"/c/{fork}").text
    ui.post(f"/api/v1/conversations/{fork}/turns")
    assert 'data-fresh-fork="false"' in ui.get(f"/c/{fork}").text


def test_continue_opens_an_ended_discussion_for_more_messages(ui: TestClient) -> None:
    cid = conversation(ui, turns=1, max_messages=1)
    assert ui.post(f"/api/v1/conversations/{cid}/turns").status_code == 409  # ended
    for bad in ({"messages": 0}, {"messages": 5000}, {"messages": 2, "mode": "sideways"}):
        assert ui.post(f"/api/v1/conversations/{cid}/continue", json=bad).status_code == 422
    answer = ui.post(f"/api/v1/conversations/{cid}/continue", json={"messages": 2, "mode": "manual"})
    assert answer.status_code == 204
    state = ui.get(f"/api/v1/conversations/{cid}").json()
    assert state["status"] == "idle"
    assert state["stop_reason"] == "continued for 2 more messages"
    assert ui.post(f"/api/v1/conversations/{cid}/turns").json()["status"] == "idle"
    assert ui.post(f"/api/v1/conversations/{cid}/turns").json()["status"] == "finished"
    ui.post(f"/api/v1/conversations/{cid}/stop")
    assert ui.post(f"/api/v1/conversations/{cid}/continue", json={"messages": 1}).status_code == 204
    assert ui.get(f"/api/v1/conversations/{cid}").json()["status"] == "idle"


def test_member_cards_have_a_menu_and_the_editor_selects_the_model_in_use(ui: TestClient) -> None:
    cid = conversation(ui, turns=0)
    sidebar = ui.get(f"/ui/c/{cid}/sidebar").text
    card = sidebar.split('id="member-cfo"')[1].split("</li>\n")[0]
    assert 'aria-label="Actions for Grace Liu"' in card
    assert 'data-remove-member="cfo" data-name="Grace Liu"' in card
    picker = card.split('id="edit-model-cfo"')[1].split("</select>")[0]
    assert re.search(r"<option selected[^>]*>scripted</option>", picker), picker


def test_the_branch_tree_and_compare_do_not_repeat_themselves(ui: TestClient) -> None:
    cid = conversation(ui, turns=2, max_messages=3)
    fork = ui.post(f"/api/v1/conversations/{cid}/fork", json={"at_index": 1}).json()["id"]
    tree = ui.get(f"/ui/c/{fork}/sidebar").text.split('class="tree"')[1]
    assert "(fork at #1)" not in tree
    assert tree.count("#1") == 1
    ui.post(f"/api/v1/conversations/{cid}/turns")  # the original finishes
    rerun = ui.post(f"/api/v1/conversations/{cid}/rerun", json={"seed": 4242}).json()["id"]
    page = ui.get(f"/compare/{cid}/{rerun}").text
    for _ in range(100):
        if 'class="recommendation"' in page:
            break
        page = ui.get(f"/compare/{cid}/{rerun}").text
    side = page.split('id="side-second"')[1]
    assert side.count("4242") == 1, side[:600]


def test_rerunning_a_fork_starts_from_the_fork_point(ui: TestClient) -> None:
    cid = conversation(ui, turns=3)
    fork = ui.post(f"/api/v1/conversations/{cid}/fork", json={"at_index": 1}).json()["id"]
    rerun = ui.post(f"/api/v1/conversations/{fork}/rerun", json={"seed": 7}).json()
    assert rerun["forked_from"] == cid
    assert rerun["forked_at"] == 1
    shared = ui.get(f"/api/v1/conversations/{cid}/messages", params={"limit": 2}).json()["items"]
    again = ui.get(f"/api/v1/conversations/{rerun['id']}/messages", params={"limit": 2}).json()["items"]
    assert [m["text"] for m in again] == [m["text"] for m in shared]


def test_costs_list_only_personas_as_personas(ui: TestClient) -> None:
    cid = conversation(ui, turns=2)
    assert ui.post(f"/api/v1/conversations/{cid}/memo", json={"chair": "scripted"}).status_code == 200
    page = ui.get("/costs").text
    chart = page.split("Per persona")[1].split("</figure>")[0]
    labels = re.findall(r'class="label"[^>]*>([^<]*)<', chart)
    assert labels
    assert not {"memo", "summaries", "orchestrator", "Summaries"} & set(labels)
    assert "Decision memos" in chart
    assert "font-size: 17px" in ui.get("/static/app.css").text


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "Templates"),
        ("/new", "New"),
        ("/personas", "Personas"),
        ("/personas/new", "Personas"),
        ("/history", "History"),
        ("/costs", "Costs"),
        ("/settings", "Settings"),
    ],
)
def test_the_nav_marks_the_page_it_is_on(ui: TestClient, path: str, current: str) -> None:
    nav = ui.get(path).text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    marked = re.findall(r'<a href="[^"]*" aria-current="page">([^<]*)</a>', nav)
    assert marked == [current]
