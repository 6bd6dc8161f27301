from __future__ import annotations

import pytest

from tests.engine.helpers import library
from thinktank.orchestration.scoring import is_addressed

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
