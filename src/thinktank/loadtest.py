"""The load test simulator (seed §4.3): many conversations at once on the scripted model.

In process, it runs the whole server stack (service, engine, orchestrator, wrapper stack, events,
database) on a scratch database; against a running server (`url`), it drives the public API.
Either way it reports throughput against the ideal (every conversation taking a turn every
latency + delay seconds), reply-time percentiles, errors, event-loop lag (in process) and what the
same messages would have cost on the personas' own models.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2

from thinktank.conversations import ConversationService
from thinktank.domain import Message, Persona
from thinktank.domain.vocabulary import SETTLED
from thinktank.engine.setup import ConversationSpec
from thinktank.events.log import EventBus
from thinktank.library.loader import Library, load_library
from thinktank.models.ids import SCRIPTED
from thinktank.models.keys import ProviderKeys
from thinktank.models.scripted import Latency
from thinktank.models.stack import ModelFactory
from thinktank.pricing.prices import Pricer
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import scoped

TOPIC = "How should we price the new enterprise tier?"
LAG_PROBE_SECONDS = 0.01
POLL_SECONDS = 2.0
"""How often a remote run asks whether each conversation has ended (the wall time comes from the
messages' own timestamps, so this only delays the report)."""


@dataclass(frozen=True)
class LoadTestConfig:
    """How big a load test is: conversations, turns each, model latency and panel size."""

    conversations: int
    turns: int
    latency: Latency
    personas: int = 3
    turn_delay: float = 0.0
    seed: int = 1

    @property
    def ideal_seconds(self) -> float:
        """One conversation from its first turn to its last, with nothing but replies and delays."""
        reply = (self.latency.low + self.latency.high) / 2
        return self.turns * reply + (self.turns - 1) * self.turn_delay


@dataclass
class LoadTestReport:
    """What a load test measured: throughput, latencies and errors."""

    mode: str
    conversations: int
    turns_per_conversation: int
    messages: int
    errors: int
    wall_seconds: float
    throughput: float
    """Messages per second, measured."""
    ideal_throughput: float
    """Messages per second if every conversation started at once and nothing but the model's
    latency and the delays between turns took time."""
    efficiency: float
    reply_seconds: dict[str, float]
    loop_lag_ms: dict[str, float] | None
    estimated_cost_usd: str
    """What the messages would have cost on the personas' own models (billed, with markup)."""
    estimated_cost_by_model: dict[str, str]
    error_samples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}

    def at(pct: float) -> float:
        return round(ordered[min(round(pct / 100 * (len(ordered) - 1)), len(ordered) - 1)], 4)

    return {"p50": at(50), "p90": at(90), "p99": at(99), "max": round(ordered[-1], 4)}


def pick_panel(library: Library, size: int, rng: random.Random) -> list[Persona]:
    personas = sorted(library.personas.values(), key=lambda p: p.id)
    if size > len(personas):
        raise ValueError(f"the library has {len(personas)} personas, not {size}")
    return rng.sample(personas, size)


class RealCostEstimate:
    """Prices each reply on the speaker's own primary model, as if no scripted model stood in."""

    def __init__(self, pricer: Pricer, personas: dict[str, Persona]) -> None:
        self.pricer = pricer
        self.personas = personas
        self.total = Decimal(0)
        self.by_model: dict[str, Decimal] = {}

    def add(self, speaker_id: str, input_tokens: int, output_tokens: int) -> None:
        persona = self.personas.get(speaker_id)
        if persona is None:
            return
        model = persona.model_id
        billed = self.pricer.price(model, input_tokens=input_tokens, output_tokens=output_tokens).billed
        if billed is None:
            return
        self.total += billed
        self.by_model[str(model)] = self.by_model.get(str(model), Decimal(0)) + billed

    def money(self) -> tuple[str, dict[str, str]]:
        def plain(value: Decimal) -> str:
            return f"{value:.6f}"

        return plain(self.total), {k: plain(v) for k, v in sorted(self.by_model.items())}


class LagProbe:
    """How late the event loop wakes a task that asked to sleep LAG_PROBE_SECONDS."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LAG_PROBE_SECONDS)
            self.lags.append((loop.time() - started - LAG_PROBE_SECONDS) * 1000)

    def start(self) -> None:
        self._task = asyncio.create_task(self._probe())

    async def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return percentiles(self.lags)


class Tally:
    """What the finished conversations of a run say: reply times, errors, the last message's time
    and the estimated real cost; the same whether they were read in process or over the API."""

    def __init__(self, config: LoadTestConfig, estimate: RealCostEstimate, *, started: float) -> None:
        self.config = config
        self.estimate = estimate
        self.replies: list[float] = []
        self.errors: list[str] = []
        self.last = started

    def conversation(self, cid: str, messages: Sequence[Message], *, status: str, reason: str) -> None:
        spoken = [m for m in messages if m.kind == "persona"]
        for message in spoken:
            self.last = max(self.last, message.created_at.timestamp())
            self.replies.append(message.latency_s or 0.0)
            self.estimate.add(message.speaker_id, message.usage.input_tokens, message.usage.output_tokens)
            if message.incomplete:
                self.errors.append(f"{cid}: message {message.index} incomplete: {message.error}")
        if status != "finished" or len(spoken) != self.config.turns:
            self.errors.append(f"{cid}: {status} ({reason}) after {len(spoken)} messages")


def _report(
    mode: str, config: LoadTestConfig, tally: Tally, *, started: float, lag: dict[str, float] | None
) -> LoadTestReport:
    # Until the last message: the decision memos written after it are not turns.
    wall = tally.last - started
    replies, errors = tally.replies, tally.errors
    ideal = config.conversations * config.turns / config.ideal_seconds if config.ideal_seconds else 0.0
    throughput = len(replies) / wall if wall else 0.0
    total, by_model = tally.estimate.money()
    return LoadTestReport(
        mode=mode,
        conversations=config.conversations,
        turns_per_conversation=config.turns,
        messages=len(replies),
        errors=len(errors),
        wall_seconds=round(wall, 3),
        throughput=round(throughput, 2),
        ideal_throughput=round(ideal, 2),
        efficiency=round(throughput / ideal, 4) if ideal else 0.0,
        reply_seconds=percentiles(replies),
        loop_lag_ms=lag,
        estimated_cost_usd=total,
        estimated_cost_by_model=by_model,
        error_samples=errors[:5],
    )


async def run_in_process(
    config: LoadTestConfig,
    *,
    database_url: str | None = None,
    markup: Decimal | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadTestReport:
    """The whole server stack in this process, on a scratch SQLite file unless a database is given."""
    scratch = None if database_url else tempfile.TemporaryDirectory(prefix="thinktank-loadtest-")
    url = database_url or f"sqlite+aiosqlite:///{Path(scratch.name if scratch else '.') / 'load.db'}"
    db = Database(url)
    pricer = Pricer() if markup is None else Pricer(markup=markup)
    factory = ModelFactory(keys=ProviderKeys(), pricer=pricer, scripted_latency=config.latency)
    library = load_library()
    service = ConversationService(db=db, library=library, factory=factory, bus=EventBus())
    rng = random.Random(config.seed)
    try:
        await db.upgrade()
        with scoped(LOCAL_USER_ID):
            await service.start()
            ids: list[str] = []
            panels: dict[str, Persona] = {}
            for number in range(config.conversations):
                panel = pick_panel(library, config.personas, rng)
                panels.update({p.id: p for p in panel})
                row = await service.create(
                    user_id=LOCAL_USER_ID,
                    spec=ConversationSpec(
                        topic=TOPIC,
                        persona_ids=[p.id for p in panel],
                        model_override=SCRIPTED,
                        seed=config.seed + number,
                        turn_delay=config.turn_delay,
                        max_messages=config.turns,
                    ),
                )
                ids.append(row.id)
            probe = LagProbe()
            probe.start()
            started = time.time()
            # Everyone presses "auto" at once: the start is part of the load.
            await asyncio.gather(
                *(
                    service.set_run_mode(user_id=LOCAL_USER_ID, conversation_id=cid, mode="auto")
                    for cid in ids
                )
            )
            runners = [
                asyncio.create_task(service.run_ended(user_id=LOCAL_USER_ID, conversation_id=cid))
                for cid in ids
            ]
            pending: set[asyncio.Task[None]] = set(runners)
            while pending:
                _, pending = await asyncio.wait(pending, timeout=1.0)
                if on_progress is not None:
                    on_progress(len(runners) - len(pending), len(runners))
            lag = await probe.stop()
            # Read within the user's scope, as every other service call here is.
            engines = [await service.engine(user_id=LOCAL_USER_ID, conversation_id=cid) for cid in ids]
        tally = Tally(config, RealCostEstimate(pricer, panels), started=started)
        for cid, engine in zip(ids, engines, strict=True):
            tally.conversation(cid, engine.messages, status=engine.status, reason=engine.stop_reason)
        return _report("in-process", config, tally, started=started, lag=lag)
    finally:
        await service.close()
        await db.dispose()
        if scratch is not None:
            scratch.cleanup()


async def run_against_server(
    config: LoadTestConfig,
    urls: Sequence[str],
    *,
    token: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadTestReport:
    """Drive running servers through their API, conversations spread round-robin over `urls` (several
    web processes of one deployment). The scripted model's latency is the servers' own
    (THINKTANK_SCRIPTED_LATENCY); `config.latency` only sets the ideal to compare with."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Idle connections are dropped well before uvicorn closes them (after 5 s, also httpx's default):
    # a request sent on a connection the server is closing at that moment fails with a read error.
    limits = httpx2.Limits(max_connections=100, keepalive_expiry=2.0)
    apis = [url.rstrip("/") + "/api/v1" for url in urls]
    api = apis[0]
    rng = random.Random(config.seed)
    async with httpx2.AsyncClient(headers=headers, timeout=60.0, limits=limits) as client:
        library_personas = (await _ok(client.get(f"{api}/personas"))).json()
        known = {
            entry["persona"]["id"]: Persona.model_validate(entry["persona"]) for entry in library_personas
        }
        library = Library(personas=known, templates={})
        gate = asyncio.Semaphore(50)
        panels: dict[str, Persona] = {}

        async def create(number: int) -> str:
            panel = pick_panel(library, config.personas, rng)
            panels.update({p.id: p for p in panel})
            body = {
                "topic": TOPIC,
                "persona_ids": [p.id for p in panel],
                "model": "scripted",
                "seed": config.seed + number,
                "turn_delay": config.turn_delay,
                "max_messages": config.turns,
            }
            async with gate:
                created = await _ok(client.post(f"{apis[number % len(apis)]}/conversations", json=body))
                return str(created.json()["id"])

        ids = await asyncio.gather(*(create(n) for n in range(config.conversations)))
        home = {cid: apis[number % len(apis)] for number, cid in enumerate(ids)}
        started = time.time()

        async def auto(cid: str) -> None:
            async with gate:
                await _ok(client.put(f"{home[cid]}/conversations/{cid}/mode", json={"mode": "auto"}))

        await asyncio.gather(*(auto(cid) for cid in ids))
        ended: dict[str, tuple[str, str]] = {}
        wanted = set(ids)
        while len(ended) < len(ids):
            await asyncio.sleep(POLL_SECONDS)
            # The conversation list (a cheap read, 100 a page) rather than each conversation.
            cursor: str | None = None
            seen = 0
            while seen < len(wanted):
                query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
                async with gate:
                    page = (await _ok(client.get(f"{api}/conversations{query}"))).json()
                for item in page["items"]:
                    if item["id"] in wanted:
                        seen += 1
                        if item["status"] in SETTLED:
                            ended[item["id"]] = (item["status"], item["stop_reason"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            if on_progress is not None:
                on_progress(len(ended), len(ids))
        tally = Tally(config, RealCostEstimate(Pricer(), panels), started=started)

        async def collect(cid: str) -> None:
            async with gate:
                page = (await _ok(client.get(f"{home[cid]}/conversations/{cid}/messages?limit=500"))).json()
            status, reason = ended[cid]
            messages = [Message.from_json(m) for m in page["items"]]
            tally.conversation(cid, messages, status=status, reason=reason)

        await asyncio.gather(*(collect(cid) for cid in ids))
    # The servers' clock: run them on the same machine as this client for a fair figure.
    return _report("server", config, tally, started=started, lag=None)


async def _ok(request: Any) -> httpx2.Response:
    response: httpx2.Response = await request
    if response.status_code >= 400:
        where = f"{response.request.method} {response.request.url.path}"
        raise RuntimeError(f"{where}: {response.status_code} {response.text[:200]}")
    return response
