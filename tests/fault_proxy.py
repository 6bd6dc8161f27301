"""A fault-injecting HTTP proxy on loopback, and a fake OpenAI-compatible server to put behind it.

`FaultProxy` forwards each request to its upstream, or instead (seeded, at `rate`) answers 429 with
Retry-After, 500 or 503, resets the connection, hangs, or relays the first events of a streamed
reply and then drops the connection. It numbers the requests it forwards (`x-proxy-request`
header) and records what it did to each, so a test can tell which reply was cut.

`FakeCompatibleServer` answers chat completions the way llama-cpp-python's server does: streamed
chunks and no usage in the stream (it ignores `stream_options.include_usage`). Each reply names the
proxy's request number ("[r7] ..."), and each sentence in it is unique.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

FAULTS = ("429", "500", "503", "reset", "hang", "drop")


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return _Request(method, path, headers, body)


def _response_head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode()


async def _write_json(writer: asyncio.StreamWriter, status: int, payload: object, **headers: str) -> None:
    body = json.dumps(payload).encode()
    head = {"content-type": "application/json", "content-length": str(len(body)), **headers}
    writer.write(_response_head(status, head) + body)
    await writer.drain()
    writer.close()


class _Server:
    """A tiny HTTP/1.1 server on a free loopback port; one request per connection."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is not None:
                await self.handle(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if not writer.is_closing():
                writer.close()

    async def handle(self, request: _Request, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class FakeCompatibleServer(_Server):
    def __init__(self, *, sentences: int = 3, pause: float = 0.0) -> None:
        super().__init__()
        self.sentences = sentences
        self.pause = pause
        self.requests: list[dict[str, object]] = []

    async def handle(self, request: _Request, writer: asyncio.StreamWriter) -> None:
        body = json.loads(request.body)
        self.requests.append(body)
        number = request.headers.get("x-proxy-request", str(len(self.requests)))
        pieces = [f"[r{number}] "] + [
            f"Point {i} of reply {number} is its own sentence. " for i in range(self.sentences)
        ]
        chunk = {"id": f"c{number}", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        if not body.get("stream"):
            answer = {
                "id": f"c{number}",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(pieces)},
                        "finish_reason": "stop",
                    }
                ],
            }
            await _write_json(writer, 200, answer)
            return
        writer.write(_response_head(200, {"content-type": "text/event-stream"}))
        for piece in pieces:
            delta = {"role": "assistant", "content": piece}
            event = {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            writer.write(f"data: {json.dumps(event)}\n\n".encode())
            await writer.drain()
            if self.pause:
                await asyncio.sleep(self.pause)
        done = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        writer.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
        await writer.drain()
        writer.close()


@dataclass
class Forwarded:
    number: int
    fault: str
    """"ok", or one of FAULTS."""
    started: float = field(default_factory=time.monotonic)


class FaultProxy(_Server):
    def __init__(
        self,
        upstream: str,
        *,
        seed: int,
        rate: float = 0.3,
        hang_s: float = 15.0,
        drop_after_events: int = 2,
        retry_after: str = "1",
        faults: tuple[str, ...] = FAULTS,
    ) -> None:
        super().__init__()
        self.faults = faults
        self.upstream = upstream
        self.rate = rate
        self.hang_s = hang_s
        self.drop_after_events = drop_after_events
        self.retry_after = retry_after
        self._random = random.Random(seed)
        self.log: list[Forwarded] = []
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(120.0))

    async def close(self) -> None:
        await super().close()
        await self._client.aclose()

    def dropped(self) -> set[int]:
        return {f.number for f in self.log if f.fault == "drop"}

    async def handle(self, request: _Request, writer: asyncio.StreamWriter) -> None:
        fault = self._random.choice(self.faults) if self._random.random() < self.rate else "ok"
        streamed = request.method == "POST" and json.loads(request.body or b"{}").get("stream", False)
        if fault == "drop" and not streamed:
            fault = "reset"
        forwarded = Forwarded(len(self.log) + 1, fault)
        self.log.append(forwarded)
        match fault:
            case "429":
                error = {"error": {"message": "slow down", "type": "rate_limit", "code": None}}
                await _write_json(writer, 429, error, **{"retry-after": self.retry_after})
            case "500" | "503":
                error = {"error": {"message": f"injected {fault}", "type": "server_error", "code": None}}
                await _write_json(writer, int(fault), error)
            case "reset":
                writer.transport.abort()
            case "hang":
                await asyncio.sleep(self.hang_s)
                writer.transport.abort()
            case _:
                await self._forward(request, writer, number=forwarded.number, drop=fault == "drop")

    async def _forward(
        self, request: _Request, writer: asyncio.StreamWriter, *, number: int, drop: bool
    ) -> None:
        headers = {
            k: v for k, v in request.headers.items() if k not in ("host", "content-length", "connection")
        }
        headers["x-proxy-request"] = str(number)
        async with self._client.stream(
            request.method, self.upstream + request.path, content=request.body, headers=headers
        ) as upstream:
            kept = {k: v for k, v in upstream.headers.items() if k.lower() == "content-type"}
            writer.write(_response_head(upstream.status_code, kept))
            events = 0
            async for chunk in _events(upstream.aiter_raw()):
                writer.write(chunk)
                await writer.drain()
                events += 1
                if drop and events >= self.drop_after_events:
                    writer.transport.abort()
                    return
        await writer.drain()
        writer.close()


async def _events(raw: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Re-chunk a byte stream at SSE event boundaries, so "drop after N events" is exact."""
    buffer = b""
    async for piece in raw:
        buffer += piece
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            yield event + b"\n\n"
    if buffer:
        yield buffer
