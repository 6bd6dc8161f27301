from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.engine.helpers import library
from thinktank.domain import Message
from thinktank.orchestration.scoring import SelectionContext, addressed_by_last, addressed_in, is_addressed

PERSONA = next(p for p in library().personas.values() if " " in p.name)
FIRST = PERSONA.name.split()[0]


@pytest.mark.parametrize(
    ("line", "addressed"),
    [
        (f"{FIRST}, what do you make of it?", True),
        (f"So {PERSONA.name}: your view.", True),
        (f"What do you think, {FIRST}?", True),
        (f"Any thoughts from the {PERSONA.role.lower()}?", True),
        (f"Building on what {FIRST} said, we should wait.", False),
        (f"I agree with {FIRST}. Next we price it.\n{FIRST}? Over to you.", True),
        (f"@{PERSONA.id} please weigh in", True),
        ("Nobody in particular.", False),
        (f"{FIRST.upper()}, YOUR CALL?", True),
        (f"Any thoughts from the {PERSONA.role.upper()}?", True),
        (f"Nobody in particular, café owners included. {FIRST.upper()}: go on.", True),
    ],
)
def test_addressed_by_name_role_or_mention(line: str, addressed: bool) -> None:
    # Twice: the second answer comes from the compiled patterns and split sentences kept in memory.
    assert is_addressed(PERSONA, line) is addressed
    assert is_addressed(PERSONA, line) is addressed


def test_the_last_message_addresses_those_it_asks_but_never_its_own_speaker() -> None:
    personas = list(library().personas.values())[:4]
    asker, asked, named, _silent = personas
    line = (
        f"{asked.name.split()[0]}, what do you make of it? Building on what {named.name} said."
        f" @{asker.id} noted it too."
    )
    said = Message(1, "persona", asker.id, asker.name, asker.role, line, datetime.now(UTC))
    context = SelectionContext(topic="t", members=personas, messages=[said])
    assert addressed_by_last(context, personas) == {asked.id}
    assert addressed_in(line, personas) == [p.id for p in personas if is_addressed(p, line)]
    assert addressed_by_last(SelectionContext(topic="t", members=personas, messages=[]), personas) == set()
