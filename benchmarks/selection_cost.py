"""Tokens sent to choose the next speaker, per turn, at turns 10, 50 and 200.

heuristic  our default: no model call at all.
llm        our LLM scorer: one call scoring every candidate, bounded input (roster + recent window).
           Measured two ways on the exact call the scorer makes: the prompt counted with the
           bundled local model's own tokenizer (its chat template applied, as llama-cpp-python
           does), and the usage that an OpenAI-compatible server reports when the real scorer
           sends that call through ThinkTank's `openai-compatible` provider. The server is
           llama-cpp-python's own (`python -m llama_cpp.server`, the `bench` extra) on the same
           model file, started here; without it that column says why it is empty.
seed       a reconstruction, not code that runs here: the seed called a model once per persona per
           turn, each call carrying the recent messages, the persona's background and its message
           count. Counted with the same tokenizer on the text that design would send; its answer
           size (30 tokens a call) is an assumption, so its totals are estimates.
Targets: heuristic 0; llm <= 1 call and flat.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from _common import PANEL, SERVER_START_SECONDS, LocalTokenizer, scripted_panel, table, write
from thinktank.domain import Persona
from thinktank.models.chat import ChatTurn, approximate_tokens
from thinktank.models.ids import parse_model_id
from thinktank.models.keys import ProviderKeys
from thinktank.models.local import resolve_local_path
from thinktank.models.stack import ModelFactory
from thinktank.orchestration.heuristic import HeuristicScorer
from thinktank.orchestration.llm import INSTRUCTIONS, LlmScorer, selection_prompt
from thinktank.orchestration.scoring import SelectionContext

CHECKPOINTS = (10, 50, 200)
PERSONAS = PANEL
SEED_SYSTEM = (
    "Score how well {name} should speak next. Consider: relevance to topic, expertise, participation "
    "balance. Return JSON: {{relevance: 0-1, expertise: 0-1, participation: 0-1, flow: 0-1}}"
)
SEED_ANSWER_TOKENS = 30
SERVED_MODEL = "smollm2"


def seed_design_tokens(
    context: SelectionContext, personas: list[Persona], tokenizer: LocalTokenizer
) -> tuple[int, int]:
    recent = [{"speaker": m.speaker_name, "text": m.text} for m in context.messages[-5:]]
    total = 0
    for persona in personas:
        payload = json.dumps(
            {
                "recentMessages": recent,
                "personaBackground": persona.model_dump(mode="json"),
                "messageCount": sum(1 for m in context.messages if m.speaker_id == persona.id),
            }
        )
        chat = [ChatTurn("system", SEED_SYSTEM.format(name=persona.name)), ChatTurn("user", payload)]
        total += tokenizer.count_chat(chat) + SEED_ANSWER_TOKENS
    return len(personas), total


def candidates(context: SelectionContext) -> list[Persona]:
    """Whom the orchestrator asks the scorer about: everyone but the persona who just spoke."""
    last = context.last
    if last is None or last.kind != "persona":
        return list(context.members)
    return [p for p in context.members if p.id != last.speaker_id]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def llama_server() -> Iterator[tuple[str | None, str]]:
    """(base URL, "") while llama-cpp-python's OpenAI-compatible server runs on the bundled model;
    (None, why) if it cannot start here."""
    try:
        import llama_cpp.server  # noqa: F401  (the `bench` extra: fastapi, sse-starlette, ...)
    except ImportError as exc:
        yield None, f"llama-cpp-python's server is not installed ({exc}); `make bench` installs it"
        return
    with tempfile.TemporaryFile() as log:
        yield from _serve(log)


def _serve(log: Any) -> Iterator[tuple[str | None, str]]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(resolve_local_path("smollm2")),
        "--model_alias",
        SERVED_MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                log.seek(0)
                last = log.read().decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                yield None, f"llama-cpp-python's server exited ({process.returncode}): {last[0][:200]}"
                return
            try:
                if httpx2.get(f"{base}/models", timeout=2.0).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                yield None, f"llama-cpp-python's server did not answer within {SERVER_START_SECONDS:.0f} s"
                return
            time.sleep(0.5)
        yield base, ""
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def served_usage(scorer: LlmScorer, context: SelectionContext, panel: list[Persona]) -> dict[str, Any]:
    sheet = await scorer.score(context, panel)
    return {
        "input_tokens": sheet.usage.input_tokens,
        "output_tokens": sheet.usage.output_tokens,
        "requests": sheet.usage.requests,
        "note": sheet.note,
    }


async def main() -> dict[str, object]:
    tokenizer = LocalTokenizer()
    engine = scripted_panel(messages=max(CHECKPOINTS))
    assert isinstance(engine.orchestrator.scorer, HeuristicScorer)
    contexts: dict[int, tuple[SelectionContext, int]] = {}
    for turn in range(1, max(CHECKPOINTS) + 1):
        context = SelectionContext(
            topic=engine.config.topic, members=engine.personas, messages=list(engine.messages)
        )
        message = await engine.take_turn()
        assert message is not None
        assert message.decision is not None
        if turn in CHECKPOINTS:
            # The context the turn was decided on, as the llm scorer would have received it.
            contexts[turn] = (context, message.decision.selection_usage.total_tokens)
    results: dict[int, dict[str, Any]] = {}
    for turn, (context, heuristic_tokens) in contexts.items():
        panel = candidates(context)
        prompt = selection_prompt(context, panel)
        chat = [ChatTurn("system", INSTRUCTIONS), ChatTurn("user", prompt)]
        seed_calls, seed = seed_design_tokens(context, engine.personas, tokenizer)
        results[turn] = {
            "heuristic": {"calls": 0, "tokens": heuristic_tokens},
            "llm": {
                "calls": 1,
                "prompt_tokens_local_tokenizer": tokenizer.count_chat(chat),
                "prompt_tokens_chars_over_4": approximate_tokens(INSTRUCTIONS) + approximate_tokens(prompt),
                "server": None,
            },
            "seed_reconstruction": {"calls": seed_calls, "tokens_estimated": seed},
        }
    tokenizer.close()
    with llama_server() as (base, why):
        if base is not None:
            keys = ProviderKeys(openai_compatible_base_url=base)
            served = parse_model_id(f"openai-compatible:{SERVED_MODEL}")
            scorer = LlmScorer(ModelFactory(keys=keys).build(served), model_id=served)
            for turn, (context, _) in contexts.items():
                results[turn]["llm"]["server"] = await served_usage(scorer, context, candidates(context))
    rows = []
    for turn in CHECKPOINTS:
        llm, seed_row = results[turn]["llm"], results[turn]["seed_reconstruction"]
        served = llm["server"]
        rows.append(
            [
                turn,
                f"0 / {results[turn]['heuristic']['tokens']}",
                f"1 / {llm['prompt_tokens_local_tokenizer']}",
                f"{served['input_tokens']} + {served['output_tokens']}" if served else "-",
                llm["prompt_tokens_chars_over_4"],
                f"{seed_row['calls']} / ~{seed_row['tokens_estimated']}",
            ]
        )
    table(
        f"Speaker selection per turn ({len(PERSONAS)} personas): calls / tokens",
        [
            "turn",
            "heuristic",
            "llm prompt (local tokenizer)",
            "llm server usage in + out",
            "llm chars/4 (old estimate)",
            "seed (reconstruction)",
        ],
        rows,
    )
    if base is None:
        print(f"  server usage: skipped, {why}")
    llm_values = [results[t]["llm"]["prompt_tokens_local_tokenizer"] for t in CHECKPOINTS]
    flat = max(llm_values) <= min(llm_values) * 1.25
    heuristic_zero = all(results[t]["heuristic"]["tokens"] == 0 for t in CHECKPOINTS)
    spread = max(llm_values) / min(llm_values)
    print(f"  heuristic uses 0 tokens: {heuristic_zero}; llm: one call, flat (max/min {spread:.2f}): {flat}")
    write(
        "selection_cost",
        {
            "personas": len(PERSONAS),
            "tokenizer": "SmolLM2-135M-Instruct (bundled), chat template applied",
            "server": "llama-cpp-python's OpenAI-compatible server" if base else None,
            "server_skipped": why or None,
            "per_turn": results,
            "llm_flat": flat,
            "heuristic_zero": heuristic_zero,
        },
    )
    return {"per_turn": results}


if __name__ == "__main__":
    asyncio.run(main())
