"""ThinkTank beside a real peer: AutoGen AgentChat's `SelectorGroupChat` on the same workload, in
this process, one after the other (alternated rounds, median of the rounds' p50s).

Workload: the benchmarks' five personas, their system prompts as ThinkTank builds them, the topic
as the first (user) message, 200 turns, every reply a fixed 45-token text (the bundled local
model's tokenizer) that both frameworks get from an instant replay model: AutoGen's
`ReplayChatCompletionClient` for each agent and for the selector (which names the next speaker
round-robin), ThinkTank's scripted model replaying the same texts.

Per-turn framework overhead is the time between two consecutive replies minus the time spent
inside the replay models, taken twice: both frameworks streaming every reply word by word to a
reader (AutoGen's `model_client_stream=True`; ThinkTank with a sink taking its events), which is
what a ThinkTank room does, and AutoGen's default, each reply handed over whole by its model,
against ThinkTank given each reply whole too (one chunk through its streaming path, no reader).
The replay models' own time is taken per call and per chunk on both sides, so a reply in 35
chunks would charge ThinkTank 35 rounds of the timer's bookkeeping against AutoGen's one.
Tokens are counted with the same tokenizer for both, chat template
applied: the selector's prompt at turns 1/10/50/200 (ThinkTank's default heuristic sends none; its
optional llm scorer's prompt is shown too) and every prompt sent over the 200 turns.
`pip install -e ".[bench]"` (done by `make bench`) brings AutoGen; without it this benchmark says
so and stops.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from _common import (
    PANEL,
    TOPIC,
    LocalTokenizer,
    median,
    percentile,
    scripted_panel,
    table,
    watching_scripted_model,
    write,
)
from thinktank.domain import Persona
from thinktank.engine.events import Event
from thinktank.engine.prompts import system_prompt
from thinktank.library.loader import load_library
from thinktank.models.chat import ChatTurn, Role
from thinktank.orchestration.llm import INSTRUCTIONS, selection_prompt
from thinktank.orchestration.scoring import SelectionContext

TURNS = 200
REPLY_TOKENS = 45
ROUNDS = 9
"""Alternated rounds. On this shared machine a round can run at half speed while another guest is
busy (AutoGen's p50 went from 0.83 to 1.24 ms between two rounds of one run); five rounds gave
ratios from 0.20 to 0.42 for the same code in successive runs, so the median is taken over nine."""
CHECKPOINTS = (1, 10, 50, 200)
SENTENCES = (
    "From where I sit, the enterprise tier has to earn its price with controls that a buyer can audit.",
    "I would test two price points with ten design partners before we publish anything.",
    "Seat-based pricing punishes the teams that adopt us most; usage tiers track the value better.",
    "Procurement will ask for single sign-on, audit logs and a support promise in writing.",
    "The risk is that discounts become the real price list within a quarter.",
)


def replies(tokenizer: LocalTokenizer) -> list[str]:
    """TURNS texts of exactly REPLY_TOKENS tokens each, different from turn to turn."""
    texts = []
    for turn in range(TURNS):
        words = " ".join(SENTENCES[(turn + k) % len(SENTENCES)] for k in range(3))
        tokens = tokenizer.llama.tokenize(f"Turn {turn + 1}: {words}".encode(), add_bos=False, special=False)
        texts.append(tokenizer.llama.detokenize(tokens[:REPLY_TOKENS]).decode(errors="ignore").strip())
    return texts


def agent_name(persona: Persona) -> str:
    return persona.id.replace("-", "_")


def overheads(
    marks: Sequence[float], model_marks: Sequence[float], started: float, model_start: float
) -> list[float]:
    """Milliseconds of each turn not spent in a model: from the previous reply to this one."""
    result, last, last_model = [], started, model_start
    for mark, model in zip(marks, model_marks, strict=True):
        result.append(((mark - last) - (model - last_model)) * 1000)
        last, last_model = mark, model
    return result


# --- AutoGen ------------------------------------------------------------------------------------


async def autogen_run(personas: list[Persona], texts: list[str], *, streaming: bool) -> dict[str, Any]:
    """`streaming`: the agents stream their replies word by word (`model_client_stream=True`), and
    every chunk reaches this run's reader as an event, as ThinkTank's words reach a watcher."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.base import ChatAgent, Team
    from autogen_agentchat.messages import TextMessage
    from autogen_agentchat.teams import SelectorGroupChat
    from autogen_core.models import CreateResult, LLMMessage
    from autogen_ext.models.replay import ReplayChatCompletionClient

    spent = [0.0]

    class TimedReplay(ReplayChatCompletionClient):
        """The replay client, with the time spent in it kept apart from the framework's."""

        async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
            started = time.perf_counter()
            try:
                return await super().create(messages, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        async def create_stream(
            self, messages: Sequence[LLMMessage], **kwargs: Any
        ) -> AsyncGenerator[str | CreateResult, None]:
            inner = super().create_stream(messages, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    item = await inner.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    spent[0] += time.perf_counter() - started
                yield item

    names = [agent_name(p) for p in personas]
    order = [names[turn % len(names)] for turn in range(TURNS)]
    per_agent: dict[str, list[str]] = {name: [] for name in names}
    for name, text in zip(order, texts, strict=True):
        per_agent[name].append(text)
    clients = {name: TimedReplay(per_agent[name]) for name in names}
    agents: list[ChatAgent | Team] = []
    for persona in personas:
        others = [p for p in personas if p is not persona]
        system = system_prompt(persona, mode="ideation", topic=TOPIC, others=others, summary=None)
        agents.append(
            AssistantAgent(
                agent_name(persona),
                model_client=clients[agent_name(persona)],
                description=f"{persona.name}, {persona.role}: {persona.description}",
                system_message=system,
                model_client_stream=streaming,
            )
        )
    selector = TimedReplay(order + order[:10])
    team = SelectorGroupChat(agents, model_client=selector, max_turns=TURNS)
    marks, model_marks = [], []
    gc.collect()
    started, model_start = time.perf_counter(), spent[0]
    async for item in team.run_stream(task=TOPIC):
        if isinstance(item, TextMessage) and item.source != "user":
            marks.append(time.perf_counter())
            model_marks.append(spent[0])
    assert len(marks) == TURNS, f"AutoGen took {len(marks)} turns, not {TURNS}"
    return {
        "overhead_ms": overheads(marks, model_marks, started, model_start),
        "selector_calls": [call["messages"] for call in selector.create_calls],
        "agent_calls": [call["messages"] for client in clients.values() for call in client.create_calls],
    }


def autogen_turns(messages: Sequence[Any]) -> list[ChatTurn]:
    from autogen_core.models import AssistantMessage, SystemMessage

    turns = []
    for message in messages:
        role: Role = (
            "system"
            if isinstance(message, SystemMessage)
            else "assistant"
            if isinstance(message, AssistantMessage)
            else "user"
        )
        turns.append(ChatTurn(role, str(message.content)))
    return turns


# --- ThinkTank ----------------------------------------------------------------------------------


async def thinktank_run(texts: list[str], *, watched: bool) -> dict[str, Any]:
    """`watched`: the model streams each reply word by word and a reader takes every event (the
    chosen speaker, each word, the message, the costs) as a room would; unwatched, the model hands
    each reply over whole, as AutoGen's default agents get theirs, and the engine builds no event."""
    engine = scripted_panel(messages=TURNS)
    if watched:

        async def reader(event: Event) -> None:
            """Takes each event and lets it go: what is measured is building and handing them over."""

        engine.sink = reader
    served = iter(texts)
    marks, model_marks, contexts = [], [], {}
    with watching_scripted_model(replies=lambda chat: next(served), whole=not watched) as watch:
        gc.collect()
        started = time.perf_counter()
        for turn in range(1, TURNS + 1):
            if turn in CHECKPOINTS:
                contexts[turn] = SelectionContext(
                    topic=engine.config.topic, members=engine.personas, messages=list(engine.messages)
                )
            message = await engine.take_turn()
            marks.append(time.perf_counter())
            model_marks.append(watch.seconds)
            assert message is not None
    selection_tokens = {turn: m.decision.selection_usage.total_tokens for turn, m in _checkpointed(engine)}
    return {
        "overhead_ms": overheads(marks, model_marks, started, 0.0),
        "prompts": watch.prompts,
        "summary_prompts": watch.summary_prompts,
        "contexts": contexts,
        "selection_tokens": selection_tokens,
    }


def _checkpointed(engine: Any) -> list[tuple[int, Any]]:
    spoken = [m for m in engine.messages if m.kind == "persona"]
    return [(turn, spoken[turn - 1]) for turn in CHECKPOINTS]


def llm_scorer_tokens(context: SelectionContext, tokenizer: LocalTokenizer) -> int:
    last = context.last
    panel = [p for p in context.members if last is None or last.kind != "persona" or p.id != last.speaker_id]
    chat = [ChatTurn("system", INSTRUCTIONS), ChatTurn("user", selection_prompt(context, panel))]
    return tokenizer.count_chat(chat)


# --- the comparison ------------------------------------------------------------------------------


async def main() -> dict[str, object]:
    try:
        import autogen_agentchat  # noqa: F401
    except ImportError as exc:
        print(f"\npeer_autogen: skipped, AutoGen is not installed ({exc}); `make bench` installs it")
        return {}
    tokenizer = LocalTokenizer()
    texts = replies(tokenizer)
    library = load_library()
    personas = [library.persona(pid) for pid in PANEL]
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    ours_watched: list[dict[str, Any]] = []
    theirs_streaming: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        ours.append(await thinktank_run(texts, watched=False))
        theirs.append(await autogen_run(personas, texts, streaming=False))
        ours_watched.append(await thinktank_run(texts, watched=True))
        theirs_streaming.append(await autogen_run(personas, texts, streaming=True))
    our_p50, our_mean = p50_and_mean(ours)
    their_p50, their_mean = p50_and_mean(theirs)
    watched_p50, watched_mean = p50_and_mean(ours_watched)
    streaming_p50, streaming_mean = p50_and_mean(theirs_streaming)

    first_ours, first_theirs = ours[0], theirs[0]
    selector_tokens = [tokenizer.count_chat(autogen_turns(m)) for m in first_theirs["selector_calls"]]
    llm_tokens = {t: llm_scorer_tokens(c, tokenizer) for t, c in first_ours["contexts"].items()}
    their_prompts = sum(tokenizer.count_chat(autogen_turns(m)) for m in first_theirs["agent_calls"])
    our_prompts = sum(tokenizer.count_chat(p) for p in first_ours["prompts"])
    our_summaries = sum(tokenizer.count_chat(p) for p in first_ours["summary_prompts"])
    their_total = their_prompts + sum(selector_tokens[:TURNS])
    our_total = our_prompts + our_summaries
    tokenizer.close()

    table(
        f"Framework overhead per turn ({len(PANEL)} agents, {TURNS} turns, instant replay models,"
        f" median of {ROUNDS} alternated rounds)",
        ["", "AutoGen SelectorGroupChat", "ThinkTank engine", "ThinkTank / AutoGen"],
        [
            ["p50 ms", f"{their_p50:.3f}", f"{our_p50:.3f}", f"{our_p50 / their_p50:.2f}"],
            ["mean ms", f"{their_mean:.3f}", f"{our_mean:.3f}", f"{our_mean / their_mean:.2f}"],
        ],
    )
    print("  Both get each reply whole from the model; ThinkTank streams it (one chunk) to no reader.")
    table(
        "Both streaming: every reply word by word, every chunk read as an event",
        ["", "AutoGen (model_client_stream)", "ThinkTank (watched)", "ThinkTank / AutoGen"],
        [
            ["p50 ms", f"{streaming_p50:.3f}", f"{watched_p50:.3f}", f"{watched_p50 / streaming_p50:.2f}"],
            [
                "mean ms",
                f"{streaming_mean:.3f}",
                f"{watched_mean:.3f}",
                f"{watched_mean / streaming_mean:.2f}",
            ],
        ],
    )
    rows = []
    for turn in CHECKPOINTS:
        theirs_at = selector_tokens[turn - 1]
        rows.append(
            [
                turn,
                theirs_at,
                first_ours["selection_tokens"][turn],
                llm_tokens[turn],
                f"{llm_tokens[turn] / theirs_at:.2f}",
            ]
        )
    table(
        "Speaker-selection tokens per turn (local tokenizer)",
        ["turn", "AutoGen selector", "ThinkTank heuristic", "ThinkTank llm scorer", "llm / AutoGen"],
        rows,
    )
    table(
        f"Prompt tokens over {TURNS} turns (local tokenizer)",
        ["", "AutoGen", "ThinkTank", "ThinkTank / AutoGen"],
        [
            ["agents' prompts", their_prompts, our_prompts, f"{our_prompts / their_prompts:.3f}"],
            ["selection", sum(selector_tokens[:TURNS]), 0, "0"],
            ["summaries", 0, our_summaries, "-"],
            ["total", their_total, our_total, f"{our_total / their_total:.3f}"],
        ],
    )
    ratio = our_p50 / their_p50
    streaming_ratio = watched_p50 / streaming_p50
    for label, value in (("both streaming", streaming_ratio), ("AutoGen whole replies", ratio)):
        verdict = "meets" if value <= 0.25 else "misses"
        print(f"  target: ThinkTank overhead <= 0.25 of AutoGen's (p50), {label}: {verdict} ({value:.2f})")
    write(
        "peer_autogen",
        {
            "autogen_version": _version("autogen-agentchat"),
            "turns": TURNS,
            "agents": len(PANEL),
            "reply_tokens": REPLY_TOKENS,
            "rounds": ROUNDS,
            "overhead_ms_p50": {"autogen": their_p50, "thinktank": our_p50, "ratio": ratio},
            "overhead_ms_mean": {
                "autogen": their_mean,
                "thinktank": our_mean,
                "ratio": our_mean / their_mean,
            },
            "streaming_overhead_ms_p50": {
                "autogen": streaming_p50,
                "thinktank": watched_p50,
                "ratio": watched_p50 / streaming_p50,
            },
            "streaming_overhead_ms_mean": {
                "autogen": streaming_mean,
                "thinktank": watched_mean,
                "ratio": watched_mean / streaming_mean,
            },
            "overhead_ms_p50_by_round": {
                "autogen": [percentile(r["overhead_ms"], 50) for r in theirs],
                "thinktank": [percentile(r["overhead_ms"], 50) for r in ours],
            },
            "selection_tokens": {
                str(turn): {
                    "autogen_selector": selector_tokens[turn - 1],
                    "thinktank_heuristic": first_ours["selection_tokens"][turn],
                    "thinktank_llm_scorer": llm_tokens[turn],
                }
                for turn in CHECKPOINTS
            },
            "prompt_tokens": {
                "autogen_agents": their_prompts,
                "autogen_selector": sum(selector_tokens[:TURNS]),
                "autogen_total": their_total,
                "thinktank_agents": our_prompts,
                "thinktank_summaries": our_summaries,
                "thinktank_total": our_total,
                "ratio": our_total / their_total,
            },
            "meets_target": streaming_ratio <= 0.25,
            "meets_target_against_whole_replies": ratio <= 0.25,
        },
    )
    return {"ratio": ratio}


def p50_and_mean(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """The median over rounds of each round's p50, and of each round's mean."""
    return (
        median([percentile(r["overhead_ms"], 50) for r in runs]),
        median([sum(r["overhead_ms"]) / TURNS for r in runs]),
    )


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    asyncio.run(main())
