"""How fast the conversation room opens: a 50-message and a 2,000-message conversation, served by a
real `thinktank serve` and opened in Debian's headless Chromium (navigation until the newest message
is on screen). Target: the 2,000-message room opens in under a second."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _common import SERVER_START_SECONDS, table, write

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.server_process import running_server
from tests.web.conftest import CHROMIUM, CHROMIUM_FLAGS, server_env
from tests.web.seed import long_conversation

SIZES = (50, 2000)
REPEATS = 7


def measure() -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, float]] = {}
    scratch = Path(tempfile.mkdtemp(prefix="thinktank-room-"))
    url = f"sqlite+aiosqlite:///{scratch / 'room.db'}"
    ids = {size: long_conversation(url, scratch / f"seed-{size}", messages=size) for size in SIZES}
    serving = running_server(database_url=url, extra_env=server_env(), start_seconds=SERVER_START_SECONDS)
    with serving as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for size, cid in ids.items():
            render, opened = [], []
            for _ in range(REPEATS):
                started = time.perf_counter()
                httpx.get(f"{server.url}/c/{cid}", timeout=30).raise_for_status()
                render.append(time.perf_counter() - started)
                started = time.perf_counter()
                page.goto(f"{server.url}/c/{cid}")
                page.locator(f"#m-{size - 1}").wait_for()
                opened.append(time.perf_counter() - started)
            results[str(size)] = {
                "server_render_ms_median": statistics.median(render) * 1000,
                "browser_open_ms_median": statistics.median(opened) * 1000,
                "browser_open_ms_max": max(opened) * 1000,
            }
        browser.close()
    return results


async def main() -> None:
    if not CHROMIUM.exists():
        print(f"\nroom_open: skipped, {CHROMIUM} is not installed")
        return
    results = await asyncio.to_thread(measure)
    rows = [
        [
            size,
            f"{r['server_render_ms_median']:.0f}",
            f"{r['browser_open_ms_median']:.0f}",
            f"{r['browser_open_ms_max']:.0f}",
        ]
        for size, r in results.items()
    ]
    table(
        "Opening the room (ms)",
        ["messages", "server render p50", "browser open p50", "browser open max"],
        rows,
    )
    ratio = results["2000"]["browser_open_ms_median"] / results["50"]["browser_open_ms_median"]
    print(f"  2,000 vs 50 messages: {ratio:.2f}x; target < 1000 ms for 2,000")
    write("room_open", {"sizes": results, "ratio_2000_vs_50": ratio})


if __name__ == "__main__":
    asyncio.run(main())
