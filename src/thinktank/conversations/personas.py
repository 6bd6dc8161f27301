"""The personas a user can put on a panel: the library's and their own saved ones."""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.domain import Persona
from thinktank.library.loader import Library
from thinktank.store import repository as repo
from thinktank.store.db import Database


class UserLibrary:
    """The shared library, seen by one user: their own personas win on the same id."""

    def __init__(self, db: Database, *, library: Library) -> None:
        self.db = db
        self.library = library

    async def my_personas(self, user_id: str) -> list[Persona]:
        async with self.db.session() as session:
            return await repo.list_user_personas(session, user_id=user_id)

    def library_with(self, mine: Sequence[Persona]) -> Library:
        if not mine:
            return self.library
        personas = {**self.library.personas, **{p.id: p for p in mine}}
        return Library(personas=personas, templates=self.library.templates)

    async def of(self, user_id: str) -> Library:
        return self.library_with(await self.my_personas(user_id))

    async def persona(self, *, user_id: str, persona_id: str) -> Persona:
        """A persona of the user's own or of the library (the user's wins on the same id)."""
        return (await self.of(user_id)).persona(persona_id)

    async def my_persona(self, *, user_id: str, persona_id: str) -> Persona:
        """One of my own personas (`NotFound` for a library one: those are not mine to edit)."""
        async with self.db.session() as session:
            row = await repo.get_user_persona(session, user_id=user_id, slug=persona_id)
        return Persona.model_validate(row.data)

    async def save_persona(self, *, user_id: str, persona: Persona, create: bool) -> None:
        """Store one of my personas: `create` refuses an id I already use, else it must exist."""
        async with self.db.session() as session:
            await repo.save_user_persona(session, user_id=user_id, persona=persona, create=create)

    async def delete_persona(self, *, user_id: str, persona_id: str) -> None:
        async with self.db.session() as session:
            await repo.delete_user_persona(session, user_id=user_id, slug=persona_id)
