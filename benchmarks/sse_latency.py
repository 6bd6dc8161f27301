"""Server-added latency from a token being published to an SSE client receiving it, on loopback,
with 100 clients watching one conversation. Server and clients are separate processes on this
2-core machine; the clock is shared, so `received - published` needs no synchronisation.
Target: p50 <= 5 ms, p99 <= 25 ms.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from _common import SERVER_START_SECONDS, percentile, table, write

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.server_process import running_server

CLIENTS = 100
MESSAGES = 6
TARGET_P50_MS, TARGET_P99_MS = 5.0, 25.0


TOKEN_AT = re.compile(rb'"type":"token\.delta".*?"at":([0-9.]+)')
FINISHED = re.compile(rb'"type":"state\.changed","status":"finished"')


async def watch(url: str, latencies: list[float], ready: asyncio.Event, connected: list[int]) -> None:
    """A deliberately thin client (raw socket, one regex per read), so the figure is the server's."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    connected.append(1)
    if len(connected) == CLIENTS:
        ready.set()
    pending = b""
    while True:
        chunk = await reader.read(65536)
        received = time.time()
        if not chunk:
            break
        pending += chunk
        cut = pending.rfind(b"\n\n")
        if cut < 0:
            continue
        complete, pending = pending[: cut + 2], pending[cut + 2 :]
        for match in TOKEN_AT.finditer(complete):
            latencies.append((received - float(match.group(1))) * 1000)
        if FINISHED.search(complete):
            break
    writer.close()


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        with running_server(database_url=url, latency="0.5-1", start_seconds=SERVER_START_SECONDS) as server:
            api = f"{server.url}/api/v1"
            async with httpx.AsyncClient(timeout=30) as client:
                created = await client.post(
                    f"{api}/conversations",
                    json={
                        "template_id": "security-review",
                        "model": "scripted",
                        "max_messages": MESSAGES,
                        "turn_delay": 0,
                    },
                )
                cid = created.json()["id"]
                latencies: list[float] = []
                ready, connected = asyncio.Event(), list[int]()
                watchers = [
                    asyncio.create_task(
                        watch(f"{api}/conversations/{cid}/events", latencies, ready, connected)
                    )
                    for _ in range(CLIENTS)
                ]
                await asyncio.wait_for(ready.wait(), 60)
                await client.put(f"{api}/conversations/{cid}/mode", json={"mode": "auto"})
                await asyncio.gather(*watchers)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    table(
        f"SSE delivery latency, publish -> client ({CLIENTS} clients, {MESSAGES} messages, loopback)",
        ["deliveries", "p50 ms", "p99 ms", "max ms"],
        [[len(latencies), f"{p50:.2f}", f"{p99:.2f}", f"{max(latencies):.2f}"]],
    )
    meets = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS
    print(
        f"  target p50 <= {TARGET_P50_MS} ms and p99 <= {TARGET_P99_MS} ms: {'meets' if meets else 'misses'}"
    )
    write(
        "sse_latency",
        {
            "clients": CLIENTS,
            "deliveries": len(latencies),
            "p50_ms": p50,
            "p99_ms": p99,
            "meets_target": meets,
        },
    )
    return {"p50_ms": p50, "p99_ms": p99}


if __name__ == "__main__":
    asyncio.run(main())
