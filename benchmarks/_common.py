"""Shared bits for the benchmark scripts: percentiles, a table printer and the JSON writer."""

from __future__ import annotations

import json
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thinktank.engine.engine import ConversationEngine
from thinktank.engine.setup import ConversationSpec, start_conversation
from thinktank.library.loader import load_library
from thinktank.models.ids import SCRIPTED
from thinktank.models.keys import ProviderKeys
from thinktank.models.stack import ModelFactory

RESULTS = Path(__file__).parent / "results"
PANEL = ["product-manager", "senior-engineer", "ux-designer", "end-user", "cfo"]
TOPIC = "How should we price the new enterprise tier?"


def scripted_panel(*, messages: int, context_budget_tokens: int | None = None) -> ConversationEngine:
    """The benchmarks' conversation: five personas on the scripted model, zero latency, seed 1."""
    spec = ConversationSpec(
        topic=TOPIC, persona_ids=PANEL, model_override=SCRIPTED, seed=1, turn_delay=0.0, max_messages=messages
    )
    if context_budget_tokens is not None:
        spec.context_budget_tokens = context_budget_tokens
    return start_conversation(spec, library=load_library(), factory=ModelFactory(keys=ProviderKeys()))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(round(pct / 100 * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def write(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **data,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"  -> {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path
