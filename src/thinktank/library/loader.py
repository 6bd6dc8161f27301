"""Load personas and templates from YAML files: the bundled library, then a user's directory.

Layout of a library directory: `personas/*.yaml` and `templates/*.yaml`, one object per file.
A user's file with the same id as a bundled one replaces it; two files with one id in the same
directory are an error. Every error names the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from thinktank.domain import ConversationTemplate, Persona
from thinktank.domain.suggest import closest
from thinktank.errors import LibraryError, UnknownIdError

T = TypeVar("T", Persona, ConversationTemplate)


def bundled_library_dir() -> Path:
    return Path(str(resources.files("thinktank.library") / "data"))


@dataclass(frozen=True)
class Library:
    """The personas and templates in use, by id, and the file each came from."""

    personas: dict[str, Persona]
    templates: dict[str, ConversationTemplate]
    sources: dict[str, Path] = field(default_factory=dict, compare=False)

    def persona(self, persona_id: str) -> Persona:
        try:
            return self.personas[persona_id]
        except KeyError:
            raise UnknownIdError(
                "persona", persona_id, suggestions=closest(persona_id, self.personas)
            ) from None

    def template(self, template_id: str) -> ConversationTemplate:
        try:
            return self.templates[template_id]
        except KeyError:
            raise UnknownIdError(
                "template", template_id, suggestions=closest(template_id, self.templates)
            ) from None

    def template_personas(self, template: ConversationTemplate) -> list[Persona]:
        return [self.personas[p] for p in template.personas]

    def categories(self) -> list[str]:
        return sorted({p.category for p in self.personas.values()})


def load_library(*, user_dir: Path | None = None, bundled_dir: Path | None = None) -> Library:
    base = bundled_dir or bundled_library_dir()
    sources: dict[str, Path] = {}
    personas = _load_kind(base / "personas", Persona, sources)
    templates = _load_kind(base / "templates", ConversationTemplate, sources)
    if user_dir is not None:
        if not user_dir.is_dir():
            raise LibraryError("is not a directory (from THINKTANK_LIBRARY_DIR)", path=str(user_dir))
        personas.update(_load_kind(user_dir / "personas", Persona, sources))
        templates.update(_load_kind(user_dir / "templates", ConversationTemplate, sources))
    for template in templates.values():
        for index, persona_id in enumerate(template.personas):
            if persona_id not in personas:
                hint = closest(persona_id, personas)
                message = f"unknown persona {persona_id!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                raise LibraryError(
                    message, path=str(sources[f"template:{template.id}"]), field=f"personas[{index}]"
                )
    return Library(
        personas=dict(sorted(personas.items())), templates=dict(sorted(templates.items())), sources=sources
    )


def _load_kind(directory: Path, kind: type[T], sources: dict[str, Path]) -> dict[str, T]:
    label = "persona" if kind is Persona else "template"
    loaded: dict[str, T] = {}
    if not directory.is_dir():
        return loaded
    for path in sorted(directory.glob("*.y*ml")):
        item = _parse_file(path, kind)
        item_id: str = item.id
        if item_id in loaded:
            first = sources[f"{label}:{item_id}"]
            raise LibraryError(
                f"duplicate {label} id {item_id!r} (also in {first.name})", path=str(path), field="id"
            )
        loaded[item_id] = item
        sources[f"{label}:{item_id}"] = path
    return loaded


def parse_persona_file(path: Path) -> Persona:
    """One persona from a YAML file of its own (an inline custom persona)."""
    if not path.is_file():
        raise LibraryError("no such persona file", path=str(path))
    return _parse_file(path, Persona)


def _parse_file(path: Path, kind: type[T]) -> T:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"cannot read: {exc}", path=str(path)) from exc
    except yaml.YAMLError as exc:
        raise LibraryError(f"invalid YAML: {exc}", path=str(path)) from exc
    if not isinstance(data, dict):
        raise LibraryError("must hold one mapping of fields", path=str(path))
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise LibraryError(message, path=str(path), field=location) from exc
