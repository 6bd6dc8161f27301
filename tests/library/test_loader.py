from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from thinktank.domain import MIN_SYSTEM_PROMPT_WORDS
from thinktank.errors import LibraryError, UnknownIdError
from thinktank.library.loader import bundled_library_dir, load_library

SEED_PERSONAS = {
    "senior-engineer": ("Alex Chen", "anthropic:claude-3-7-sonnet-20250219"),
    "ux-designer": ("Sarah Johnson", "openai:gpt-4.1-mini"),
    "product-manager": ("Michael Kim", "google:gemini-2.5-flash"),
    "security-expert": ("Diana Patel", "anthropic:claude-3-7-sonnet-20250219"),
    "end-user": ("Jamie Rivera", "google:gemini-2.5-flash-lite"),
}


def test_the_whole_bundled_library_loads() -> None:
    library = load_library()
    assert len(library.personas) >= 24
    assert len(library.categories()) >= 8
    assert len(library.templates) >= 12
    assert len({t.industry for t in library.templates.values()}) >= 6
    for persona in library.personas.values():
        assert len(persona.system_prompt.split()) >= MIN_SYSTEM_PROMPT_WORDS
        assert persona.system_prompt.startswith(f"You are {persona.name}")


def test_seed_personas_and_templates_are_there_exactly() -> None:
    library = load_library()
    for persona_id, (name, model) in SEED_PERSONAS.items():
        persona = library.persona(persona_id)
        assert (persona.name, persona.model) == (name, model)
    assert library.template("startup-product-planning").personas == [
        "product-manager",
        "senior-engineer",
        "ux-designer",
        "end-user",
    ]
    assert library.template("security-review").personas == [
        "security-expert",
        "senior-engineer",
        "devops-engineer",
    ]
    assert library.template("api-design").personas == [
        "senior-engineer",
        "frontend-dev",
        "mobile-dev",
        "product-manager",
    ]


def test_unknown_ids_suggest_the_closest_names() -> None:
    library = load_library()
    with pytest.raises(UnknownIdError) as raised:
        library.persona("senior-enginer")
    assert raised.value.suggestions[0] == "senior-engineer"
    with pytest.raises(UnknownIdError, match="security-review"):
        library.template("security-reveiw")


@pytest.fixture
def copy_of_library(tmp_path: Path) -> Path:
    target = tmp_path / "library"
    shutil.copytree(bundled_library_dir(), target)
    return target


def edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_unknown_persona_reference_names_file_and_field(copy_of_library: Path) -> None:
    edit(
        copy_of_library / "templates" / "security-review.yaml", personas=["security-expert", "senior-engneer"]
    )
    with pytest.raises(LibraryError) as raised:
        load_library(bundled_dir=copy_of_library)
    message = str(raised.value)
    assert "security-review.yaml" in message
    assert "personas[1]" in message
    assert "senior-engineer" in message


def test_duplicate_id_is_refused(copy_of_library: Path) -> None:
    shutil.copy(copy_of_library / "personas" / "cfo.yaml", copy_of_library / "personas" / "cfo-copy.yaml")
    with pytest.raises(LibraryError, match="duplicate persona id 'cfo'"):
        load_library(bundled_dir=copy_of_library)


def test_unknown_provider_names_the_field(copy_of_library: Path) -> None:
    edit(copy_of_library / "personas" / "cfo.yaml", model="azure:gpt-4")
    with pytest.raises(LibraryError) as raised:
        load_library(bundled_dir=copy_of_library)
    assert "cfo.yaml: model" in str(raised.value)
    assert "unknown provider 'azure'" in str(raised.value)


def test_missing_field_names_the_field(copy_of_library: Path) -> None:
    edit(copy_of_library / "personas" / "cfo.yaml", role=None)
    with pytest.raises(LibraryError, match=r"cfo\.yaml: role: required field is missing"):
        load_library(bundled_dir=copy_of_library)


def test_a_one_line_system_prompt_is_refused(copy_of_library: Path) -> None:
    edit(copy_of_library / "personas" / "cfo.yaml", system_prompt="You are Grace, a CFO.")
    with pytest.raises(LibraryError, match="system_prompt: has 5 words"):
        load_library(bundled_dir=copy_of_library)


def test_invalid_yaml_is_reported_with_the_file(copy_of_library: Path) -> None:
    (copy_of_library / "personas" / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(LibraryError, match=r"broken\.yaml: invalid YAML"):
        load_library(bundled_dir=copy_of_library)


def test_a_user_directory_overrides_and_extends(tmp_path: Path) -> None:
    user = tmp_path / "mine"
    (user / "personas").mkdir(parents=True)
    (user / "templates").mkdir()
    bundled = bundled_library_dir()
    cfo = yaml.safe_load((bundled / "personas" / "cfo.yaml").read_text())
    cfo["model"] = "scripted"
    (user / "personas" / "cfo.yaml").write_text(yaml.safe_dump(cfo))
    pirate = dict(cfo, id="pirate-captain", name="Anne Bonny", role="Pirate Captain")
    pirate["system_prompt"] = "You are Anne Bonny, a pirate captain. " + cfo["system_prompt"]
    (user / "personas" / "pirate.yaml").write_text(yaml.safe_dump(pirate))
    template = yaml.safe_load((bundled / "templates" / "pricing-strategy.yaml").read_text())
    template.update(id="treasure-split", personas=["pirate-captain", "cfo"])
    (user / "templates" / "treasure.yaml").write_text(yaml.safe_dump(template))

    library = load_library(user_dir=user)
    assert library.persona("cfo").model == "scripted"
    assert library.persona("pirate-captain").name == "Anne Bonny"
    assert library.template("treasure-split").personas == ["pirate-captain", "cfo"]
    assert len(library.personas) == len(load_library().personas) + 1


def test_a_missing_user_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="is not a directory"):
        load_library(user_dir=tmp_path / "absent")
