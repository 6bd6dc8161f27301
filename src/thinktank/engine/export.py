"""A conversation as files: JSON with a versioned schema (docs/transcript-schema.md) and Markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from thinktank.engine.engine import ConversationEngine

SCHEMA = "thinktank.transcript"
SCHEMA_VERSION = 1


def transcript_json(engine: ConversationEngine, *, memo: dict[str, Any] | None = None) -> dict[str, Any]:
    config = engine.config
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "conversation": {
            "topic": config.topic,
            "mode": config.mode,
            "seed": config.seed,
            "max_messages": config.max_messages,
            "max_cost_usd": None if config.max_cost is None else str(config.max_cost),
            "scorer": engine.orchestrator.scorer.name,
            "status": engine.status,
            "stop_reason": engine.stop_reason,
        },
        "members": [
            {
                "id": m.persona.id,
                "name": m.persona.name,
                "role": m.persona.role,
                "wanted_model": m.persona.model,
                "models": [str(x) for x in m.models],
                "substituted": m.substituted,
            }
            for m in engine.members
        ],
        "summary": engine.context.summary.text or None,
        "summary_covers_upto": engine.context.summary.covers_upto,
        "messages": [m.to_json() for m in engine.messages],
        "totals": engine.totals.to_json(),
        "memo": memo,
    }


def memo_markdown(memo: dict[str, Any]) -> list[str]:
    """The decision memo as Markdown lines; citations as [#index]."""
    body = memo["memo"]

    def cites(item: dict[str, Any]) -> str:
        return " " + " ".join(f"[#{c}]" for c in item["cites"])

    lines = [
        "## Decision memo",
        "",
        f"*Written by {memo['model_id']}.*",
        "",
        f"**Question:** {body['question']}",
        "",
    ]
    lines += ["**Recommendation:** " + body["recommendation"]["text"] + cites(body["recommendation"]), ""]
    for title, key in (("Options considered", "options"), ("Agreements", "agreements"), ("Risks", "risks")):
        if body[key]:
            lines += [f"**{title}**", *[f"- {c['text']}{cites(c)}" for c in body[key]], ""]
    if body["disagreements"]:
        lines.append("**Open disagreements**")
        for d in body["disagreements"]:
            lines.append(f"- {d['topic']}")
            lines += [f"  - {s['persona_id']}: {s['position']}{cites(s)}" for s in d["sides"]]
        lines.append("")
    if body["action_items"]:
        lines += [
            "**Action items**",
            *[f"- {a['task']} — {a['owner']}{cites(a)}" for a in body["action_items"]],
            "",
        ]
    if body["stances"]:
        lines += [
            "**Final stances**",
            *[f"- {s['persona_id']}: {s['stance']}{cites(s)}" for s in body["stances"]],
            "",
        ]
    return lines


def transcript_markdown(engine: ConversationEngine, *, memo: dict[str, Any] | None = None) -> str:
    config = engine.config
    lines = [
        f"# {config.topic}",
        "",
        f"Mode: {config.mode} · seed {config.seed} · {engine.status}"
        + (f" ({engine.stop_reason})" if engine.stop_reason else ""),
        "",
        "## Panel",
        "",
    ]
    for m in engine.members:
        lines.append(f"- **{m.persona.name}**, {m.persona.role} — {', '.join(map(str, m.models))}")
    if memo is not None:
        lines += ["", *memo_markdown(memo)]
    lines += ["", "## Discussion", ""]
    for message in engine.messages:
        suffix = " *(incomplete)*" if message.incomplete else ""
        lines.append(f"**{message.speaker_name}** ({message.speaker_role}){suffix}: {message.text}")
        lines.append("")
    total = engine.totals.total
    lines += [
        "## Cost",
        "",
        "| who | input tokens | output tokens | raw USD | billed USD |",
        "|---|---:|---:|---:|---:|",
    ]
    for who, line in [*engine.totals.by_persona.items(), ("**total**", total)]:
        cost = line.cost.to_json()
        lines.append(
            f"| {who} | {line.usage.input_tokens} | {line.usage.output_tokens} | "
            f"{cost['raw_usd'] or 'unknown'} | {cost['billed_usd'] or 'unknown'} |"
        )
    return "\n".join(lines) + "\n"
