"""Prometheus metrics of one process, in a registry of its own (no global state): HTTP requests,
turns, tokens and cost by provider and model, circuit breakers, the job queue, SSE clients.

Each process exposes its own: the web app at `/metrics`, a worker on `--metrics-port`. Scrape
them all; sum across processes in Prometheus.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from thinktank.domain import Message
from thinktank.models.ids import parse_model_id
from thinktank.models.resilience.breaker import BreakerRegistry

CONTENT_TYPE = CONTENT_TYPE_LATEST
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}


class Metrics:
    """The Prometheus metrics of one process (HTTP, turns, tokens, costs, breakers, SSE clients), in
    its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "thinktank_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "thinktank_http_request_seconds",
            "Time to answer (to the first byte of a stream)",
            ["route"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.turns = Counter("thinktank_turns", "Turns taken, by outcome", ["outcome"], registry=r)
        self.tokens = Counter(
            "thinktank_tokens",
            "Tokens by provider, model and direction",
            ["provider", "model", "direction"],
            registry=r,
        )
        self.cost = Counter(
            "thinktank_cost_usd",
            "Cost in USD by provider and model (raw: theirs; billed: with markup)",
            ["provider", "model", "kind"],
            registry=r,
        )
        self.reply_seconds = Histogram(
            "thinktank_reply_seconds",
            "From a turn's decision to its finished reply",
            ["provider"],
            registry=r,
            buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
        )
        self.breakers = Gauge(
            "thinktank_breaker_state",
            "Circuit breaker per provider: 0 closed, 1 half-open, 2 open",
            ["provider"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "thinktank_queue_depth", "Jobs waiting or running in the arq queue", registry=r
        )
        self.sse_clients = Gauge(
            "thinktank_sse_clients", "Live event streams open on this process", registry=r
        )
        self.live_conversations = Gauge(
            "thinktank_live_conversations", "Conversations held in memory by this process", registry=r
        )

    def message_completed(self, message: Message) -> None:
        if message.kind != "persona":
            return
        model = message.model_id or "unknown"
        provider = parse_model_id(model).provider if message.model_id else "unknown"
        self.turns.labels("incomplete" if message.incomplete else "complete").inc()
        self.tokens.labels(provider, model, "input").inc(message.usage.input_tokens)
        self.tokens.labels(provider, model, "output").inc(message.usage.output_tokens)
        if message.cost.raw is not None:
            self.cost.labels(provider, model, "raw").inc(float(message.cost.raw))
        if message.cost.billed is not None:
            self.cost.labels(provider, model, "billed").inc(float(message.cost.billed))
        if message.latency_s is not None:
            self.reply_seconds.labels(provider).observe(message.latency_s)

    def turn_failed(self) -> None:
        self.turns.labels("failed").inc()

    async def render(
        self,
        *,
        breakers: BreakerRegistry,
        sse_clients: int,
        live_conversations: int,
        queue_depth: Callable[[], Awaitable[int | None]] | None = None,
    ) -> bytes:
        """The exposition text, with the gauges read now."""
        for provider, state in breakers.states().items():
            self.breakers.labels(provider).set(BREAKER_VALUES[state])
        self.sse_clients.set(sse_clients)
        self.live_conversations.set(live_conversations)
        if queue_depth is not None:
            depth = await queue_depth()
            if depth is not None:
                self.queue_depth.set(depth)
        return generate_latest(self.registry)
