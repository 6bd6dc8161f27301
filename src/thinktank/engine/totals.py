"""The running books of a conversation: tokens and money by persona, provider, model and overall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinktank.domain import Usage
from thinktank.models.ids import parse_model_id
from thinktank.pricing.prices import FREE, Cost


@dataclass
class Line:
    """Usage and cost added up."""

    usage: Usage = field(default_factory=Usage)
    cost: Cost = FREE

    def add(self, usage: Usage, cost: Cost) -> None:
        self.usage = self.usage + usage
        self.cost = self.cost + cost

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Line:
        usage = Usage(data["input_tokens"], data["output_tokens"], data["requests"])
        return cls(usage, Cost.from_json(data))

    def to_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "requests": self.usage.requests,
            **self.cost.to_json(),
        }


@dataclass
class CostTotals:
    """A conversation's costs: in all, and per persona, provider and model."""

    total: Line = field(default_factory=Line)
    by_persona: dict[str, Line] = field(default_factory=dict)
    by_provider: dict[str, Line] = field(default_factory=dict)
    by_model: dict[str, Line] = field(default_factory=dict)

    def add(self, *, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        """`account` is a persona id, or `orchestrator` / `summaries` for the panel's own overhead."""
        self.total.add(usage, cost)
        _line(self.by_persona, account).add(usage, cost)
        if model_id is not None:
            _line(self.by_model, model_id).add(usage, cost)
            _line(self.by_provider, parse_model_id(model_id).provider).add(usage, cost)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            "by_persona": {k: v.to_json() for k, v in self.by_persona.items()},
            "by_provider": {k: v.to_json() for k, v in self.by_provider.items()},
            "by_model": {k: v.to_json() for k, v in self.by_model.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CostTotals:
        def lines(key: str) -> dict[str, Line]:
            return {k: Line.from_json(v) for k, v in data[key].items()}

        return cls(
            Line.from_json(data["total"]), lines("by_persona"), lines("by_provider"), lines("by_model")
        )


def _line(lines: dict[str, Line], key: str) -> Line:
    # Not `setdefault(key, Line())`: that builds a line to throw away on every charge but the first.
    line = lines.get(key)
    if line is None:
        line = lines[key] = Line()
    return line
