"""The scripted model: deterministic, offline, persona-aware. A product feature, not a test double.

It reads who it is from the system prompt ("You are NAME, ROLE ..."), who spoke last and what they
said, and answers in that persona's voice with text that is a pure function of its input: the same
conversation always gets the same reply. Latency is simulated (the seed's 0.5-2 s by default) and
spread over the streamed chunks; usage uses the documented ~4-characters-a-token approximation.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from thinktank.domain.vocabulary import CHAIR_OPENING, SEAT_OPENING, SUMMARISER_OPENING
from thinktank.models.chat import ChatTurn, approximate_tokens
from thinktank.models.clock import Clock, SystemClock
from thinktank.models.own import OwnModel
from thinktank.models.streaming import Chunk

_SEAT = re.compile(re.escape(SEAT_OPENING) + r" (?P<name>[^(\n]+?) \((?P<role>[^)\n]+)\)")
_TOPIC = re.compile(r"^Topic: (.+)$", re.M)
_IDENTITY = re.compile(r"You are (?P<name>[^,.\n]+?)(?:,\s*(?:an?\s+|the\s+)?(?P<role>[^.\n]+))?[.\n]")
_SPEAKER = re.compile(
    r"^\s*\[?(?P<name>[A-Z][\w .'-]{0,40}?)\]?\s*(?:\((?P<role>[^)]*)\))?\s*:\s*(?P<text>.*)", re.S
)
_STOPWORDS = frozenset(
    (
        "about above after again against because before being below between could doing during "
        "further having other should their there these those through under until where which while "
        "would your yours yourself think thing things really maybe might also just still every "
        "what when with from that this they them then than have been will into more most some such "
        "only very want need like make made going were here what's it's let's "
        # The scripted model's own phrasing, so it does not echo itself back as a topic:
        "works write minds change honest owned owns plans point differently first check holds "
        "users usually hidden propose small experiment decide measurable agree earlier deciding "
        "factor start question begin speaking building right raise further push problem panel "
        "sentences words voice latest points anyone convened discussion continue please "
    ).split()
)


@dataclass(frozen=True, slots=True)
class Latency:
    """The scripted model's simulated delay per reply: uniform between `low` and `high` seconds."""

    low: float = 0.5
    high: float = 2.0

    @classmethod
    def parse(cls, text: str) -> Latency:
        """'0', '1.5' or '0.5-2' (seconds)."""
        low_text, _, high_text = text.partition("-")
        low = float(low_text)
        high = float(high_text) if high_text else low
        if low < 0 or high < low:
            raise ValueError(f"latency {text!r} must be 'SECONDS' or 'LOW-HIGH' with 0 <= LOW <= HIGH")
        return cls(low, high)


NO_LATENCY = Latency(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class _Scene:
    name: str
    role: str
    last_speaker: str | None
    last_text: str
    own_turns: int
    keywords: tuple[str, ...]


def _read_scene(chat: list[ChatTurn]) -> _Scene:
    system = chat[0].content if chat and chat[0].role == "system" else ""
    identity = _SEAT.search(system) or _IDENTITY.search(system)
    name = identity.group("name").strip() if identity else "Panelist"
    role = (identity.group("role") or "panelist").strip() if identity else "panelist"
    last_user = next((turn.content for turn in reversed(chat) if turn.role == "user"), "")
    # Several speakers may share one user turn, one paragraph each: answer the latest.
    latest = last_user.strip().split("\n\n")[-1]
    speaker_match = _SPEAKER.match(latest)
    last_speaker = speaker_match.group("name").strip() if speaker_match else None
    last_text = speaker_match.group("text") if speaker_match else latest
    topic = _TOPIC.search(system)
    names = {w.lower() for w in re.findall(r"[A-Z][a-z]+", system)}
    words = re.findall(r"[A-Za-z][A-Za-z'-]{4,}", last_text + " " + (topic.group(1) if topic else ""))
    excluded = _STOPWORDS | names
    keywords = tuple(dict.fromkeys(w.lower() for w in words if w.lower() not in excluded))
    own_turns = sum(1 for turn in chat if turn.role == "assistant")
    return _Scene(name, role, last_speaker, last_text, own_turns, keywords or ("the problem",))


def scripted_summary(chat: list[ChatTurn]) -> str:
    """An extractive summary: each speaker's first sentence, in order, within about 150 words."""
    source = chat[-1].content if chat else ""
    lines = []
    for match in re.finditer(r"^(?P<who>[^:\n]{1,80}?)(?: \([^)\n]*\))?: (?P<text>.+)$", source, re.M):
        first = re.split(r"(?<=[.!?])\s", match.group("text").strip(), maxsplit=1)[0]
        lines.append(f"{match.group('who').strip()}: {first}")
    previous = re.search(r"Summary so far:\n(?P<text>.*?)\n\nNew messages:", source, re.S)
    summary = " ".join(([previous.group("text").strip()] if previous else []) + lines)
    words = summary.split()
    return " ".join(words[-150:]) if len(words) > 150 else summary


# A role may hold parentheses of its own: "Research Scientist (Machine Learning)".
_LINE = re.compile(
    r"^\[(?P<index>\d+)\] (?P<name>.+?) \((?P<id>[^,()]+), (?:[^()]|\([^()]*\))*\): (?P<text>.*)$", re.M
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def scripted_memo(chat: list[ChatTurn]) -> str:
    """An extractive decision memo (JSON) from a numbered transcript: every claim quotes and cites
    the message it comes from. A pure function of the transcript."""
    source = chat[-1].content if chat else ""
    question = re.search(r"^Question: (.*)$", source, re.M)
    lines = [(int(m["index"]), m["id"], m["text"]) for m in _LINE.finditer(source)]
    spoken = [(i, who, text) for i, who, text in lines if who != "user"]

    def picked(words: str, limit: int) -> list[tuple[int, str, str]]:
        found = []
        for index, who, text in spoken:
            for sentence in _SENTENCE.split(text):
                if re.search(words, sentence, re.I):
                    found.append((index, who, sentence.strip()))
                    break
        return found[:limit]

    def claims(words: str, limit: int) -> list[dict[str, Any]]:
        return [{"text": s, "cites": [i]} for i, _, s in picked(words, limit)]

    last_by_speaker: dict[str, tuple[int, str]] = {}
    for index, who, text in spoken:
        last_by_speaker[who] = (index, text)
    disagreements = []
    for index, who, sentence in picked(r"differently|disagree|however|but ", 2):
        earlier = [(i, w, t) for i, w, t in spoken if i < index and w != who]
        sides = [{"persona_id": who, "position": sentence, "cites": [index]}]
        if earlier:
            i, w, t = earlier[-1]
            sides.append({"persona_id": w, "position": _SENTENCE.split(t)[0].strip(), "cites": [i]})
        disagreements.append({"topic": sentence[:300], "sides": sides})
    if spoken:
        index, _, text = spoken[-1]
        recommendation = {"text": _SENTENCE.split(text)[-1].strip(), "cites": [index]}
    else:
        recommendation = {
            "text": "No recommendation yet: the panel has not spoken.",
            "cites": [lines[0][0] if lines else 0],
        }
    memo = {
        "question": question.group(1).strip() if question else "(no question recorded)",
        "options": claims(r"propose|should|could|suggest|let's|experiment", 4),
        "agreements": claims(r"agree|right to|building on", 3),
        "disagreements": disagreements,
        "risks": claims(r"risk|concern|worr|fail|sink", 3),
        "recommendation": recommendation,
        "action_items": [
            {"task": s, "owner": who, "cites": [i]}
            for i, who, s in picked(r"who owns|by when|experiment|measur", 3)
        ],
        "stances": [
            {"persona_id": who, "stance": _SENTENCE.split(text)[0].strip()[:300], "cites": [index]}
            for who, (index, text) in last_by_speaker.items()
        ],
    }
    return json.dumps(memo)


PERSONA_DRAFTER = "You design panel personas"
"""How the persona drafter's instructions start (`engine.drafting`): the scripted model answers
them with a persona as JSON."""
_FIRST_NAMES = ("Ana", "Ben", "Chidi", "Dana", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jae")
_LAST_NAMES = ("Alves", "Brandt", "Costa", "Dube", "Eriksen", "Fujita", "Gallo", "Haddad", "Ilic", "Joshi")


def scripted_persona(chat: list[ChatTurn]) -> str:
    """A persona (JSON) made from the one-sentence description: deterministic, offline."""
    sentence = (chat[-1].content if chat else "").strip().rstrip(".") or "a thoughtful panelist"
    rng = random.Random(hashlib.sha256(sentence.encode()).digest())
    name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
    role = re.sub(r"^(?:an?|the)\s+", "", sentence, flags=re.I).split(" who ")[0].split(",")[0][:80]
    role = role[:1].upper() + role[1:]
    expertise = [w.capitalize() for w in re.findall(r"[A-Za-z]{5,}", sentence)[:4]] or ["Judgement"]
    prompt = (
        f"You are {name}, {sentence[:1].lower() + sentence[1:]}. You reason from what you have seen in your "
        f"own work as {role.lower()} and you say plainly when a proposal ignores it. You ask what a plan "
        "costs, who carries it out, and how we will know it worked. You notice the people a decision "
        "affects who are not in the room, and the second-order effects others skip. You speak briefly "
        "and concretely, with one example rather than three abstractions, and you change your mind "
        "when someone shows you evidence. You never pretend to expertise you do not have, never repeat "
        "a point already made, and never let a vague next step stand without an owner and a date."
    )
    draft = {
        "name": name,
        "role": role,
        "category": "Custom",
        "description": sentence[:1].upper() + sentence[1:] + ".",
        "expertise": expertise,
        "experience_level": "Senior",
        "attitude": rng.choice(["Supportive", "Intrigued", "Neutral", "Skeptical"]),
        "system_prompt": prompt,
    }
    return json.dumps(draft)


def scripted_reply(chat: list[ChatTurn]) -> str:
    """The reply of the persona described by the system prompt; a pure function of `chat`."""
    if chat and chat[0].role == "system" and chat[0].content.startswith(PERSONA_DRAFTER):
        return scripted_persona(chat)
    if chat and chat[0].role == "system" and chat[0].content.startswith(SUMMARISER_OPENING):
        return scripted_summary(chat)
    if chat and chat[0].role == "system" and chat[0].content.startswith(CHAIR_OPENING):
        return scripted_memo(chat)
    scene = _read_scene(chat)
    digest = hashlib.sha256(repr((scene, [t.content for t in chat])).encode()).digest()
    rng = random.Random(digest)
    focus = rng.choice(scene.keywords)
    other = rng.choice(scene.keywords[1:] or scene.keywords)
    role = scene.role.rstrip(".")
    who = scene.last_speaker if scene.last_speaker and scene.last_speaker != scene.name else None
    if who == "You":
        openers = [
            f"You asked about {focus}, so let me answer directly.",
            f"On your question about {focus}:",
            f"Thanks for raising {focus}.",
        ]
    else:
        openers = (
            [
                f"{who}, I want to pick up your point about {focus}.",
                f"Building on what {who} said about {focus}:",
                f"I see it a little differently from {who} on {focus}.",
                f"{who} is right to raise {focus}, and I'd push it further.",
            ]
            if who
            else [
                f"Let me start with {focus}.",
                f"The question of {focus} is where I'd begin.",
            ]
        )
    bodies = [
        f"Speaking as the {role}, the first thing I check is how {other} holds up for real users.",
        f"From my seat as {role}, {focus} only works if we are honest about {other}.",
        f"As the {role} here, I've seen {other} sink plans like this when nobody owned it.",
        f"In my work as {role}, the risk with {focus} is usually hidden in {other}.",
    ]
    closers = [
        f"Can we agree on one measurable goal for {focus} before we go further?",
        f"I'd propose a small experiment on {other} this week and decide with data.",
        f"What would change our minds about {focus}?",
        f"Let's write down who owns {other} and by when.",
    ]
    if scene.own_turns:
        closers.append(f"I said earlier that {other} matters; I still think it is the deciding factor.")
    return " ".join([rng.choice(openers), rng.choice(bodies), rng.choice(closers)])


class ScriptedModel(OwnModel):
    """Deterministic, offline model selectable as `scripted` (or `scripted:NAME`)."""

    provider_label = "scripted"

    def __init__(
        self, variant: str = "default", *, latency: Latency = NO_LATENCY, clock: Clock | None = None
    ):
        super().__init__(variant)
        self._latency = latency
        self._clock = clock or SystemClock()

    def _delay_for(self, text: str) -> float:
        rng = random.Random(text)
        return rng.uniform(self._latency.low, self._latency.high)

    async def complete(self, chat: list[ChatTurn], settings: ModelSettings) -> tuple[str, RequestUsage]:
        # Nothing is shown until the end, so the simulated latency is one wait, not one per word:
        # a thousand memos written at once would otherwise wake the event loop word by word.
        text = scripted_reply(chat)
        await self._clock.sleep(self._delay_for(text))
        return text, _usage(chat, text)

    async def generate(self, chat: list[ChatTurn], settings: ModelSettings) -> AsyncIterator[Chunk]:
        text = scripted_reply(chat)
        words = re.findall(r"\S+\s*", text)
        delay = self._delay_for(text)
        # Time to first token is about a third of the total, like a real provider's. Each word is
        # due at a fixed time from the start; a busy event loop that wakes late sends every word
        # already due at once, so the reply still takes the simulated latency, not that plus drift.
        first_wait, per_word = delay / 3, (delay * 2 / 3) / max(len(words), 1)
        clock = self._clock
        start = clock.monotonic()
        sent = 0
        while sent < len(words):
            wait = start + first_wait + sent * per_word - clock.monotonic()
            if wait > 0:
                await clock.sleep(wait)
            elapsed = clock.monotonic() - start - first_wait
            due = sent + 1 if not per_word else min(len(words), max(sent + 1, int(elapsed / per_word) + 1))
            yield "".join(words[sent:due])
            sent = due
        yield _usage(chat, text)


def _usage(chat: list[ChatTurn], text: str) -> RequestUsage:
    prompt = sum(approximate_tokens(turn.content) for turn in chat)
    return RequestUsage(input_tokens=prompt, output_tokens=approximate_tokens(text))
