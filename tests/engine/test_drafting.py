"""A persona drafted from one sentence: the scripted model over the API and the builder; a model
that answers with something else is a readable error, not a broken form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FaultyModel
from tests.web.test_pages import ui
from thinktank.domain import Persona
from thinktank.engine.drafting import draft_persona
from thinktank.errors import UserError
from thinktank.models.scripted import ScriptedModel

__all__ = ["ui"]
SENTENCE = "A night-shift ICU nurse who worries about staffing and alarm fatigue"


async def test_the_scripted_model_drafts_a_valid_persona() -> None:
    draft = await draft_persona(SENTENCE, model=ScriptedModel())
    assert draft.role == "Night-shift ICU nurse"
    assert draft.system_prompt.startswith(f"You are {draft.name},")
    persona = Persona.model_validate(
        draft.model_dump(exclude_none=True) | {"id": "nurse", "model": "scripted"}
    )
    assert persona.name == draft.name


async def test_an_answer_that_is_not_a_persona_is_a_user_error() -> None:
    with pytest.raises(UserError, match="not a usable persona"):
        await draft_persona(SENTENCE, model=FaultyModel(text='{"name": "No Role"}'))
    with pytest.raises(UserError, match="not a usable persona"):
        await draft_persona(SENTENCE, model=FaultyModel(text="Sure! Here is a persona: a nurse."))
    with pytest.raises(UserError, match="in a sentence"):
        await draft_persona("  ", model=ScriptedModel())


def test_the_builder_is_filled_in_for_editing_and_saves(ui: TestClient) -> None:
    drafted = ui.post("/api/v1/personas/draft", json={"sentence": SENTENCE, "model": "scripted"}).json()
    assert drafted["model"] == "scripted"
    form = ui.post("/ui/personas/draft", data={"sentence": SENTENCE, "draft_model": "scripted"}).text
    assert f'value="{drafted["name"]}"' in form
    assert 'value="Night-shift ICU nurse"' in form
    assert "Create persona" in form  # not saved yet: the user edits, then saves
    assert ui.get(f"/api/v1/personas/{drafted['id']}").status_code == 404
    saved = ui.post("/api/v1/personas", json={k: v for k, v in drafted.items()})
    assert saved.status_code == 201, saved.text
    nothing = ui.post("/ui/personas/draft", data={"sentence": "", "name": "Kept"}).text
    assert "No draft: describe the persona" in nothing
    assert 'value="Kept"' in nothing
    assert 'name="sentence"' not in nothing
