"""Several web processes and job workers on PostgreSQL + Redis, as deployed: events reach every web
process, exactly one worker drives a conversation, a killed worker's conversation is taken over,
and batches run on the workers."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
import redis

from tests.api.test_events import read_until_finished, sse_events
from tests.jobs.conftest import Deployment
from tests.server_process import running_server, running_worker
from tests.services import start_redis, stop_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FAST_TAKEOVER = {"THINKTANK_LEASE_SECONDS": "2"}


def start_conversation(api: str, *, messages: int, seed: int = 3) -> str:
    response = httpx.post(
        f"{api}/conversations",
        json={
            "template_id": "security-review",
            "model": "scripted",
            "max_messages": messages,
            "turn_delay": 0,
            "seed": seed,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_for_status(api: str, cid: str, wanted: set[str], *, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        conversation: dict[str, Any] = httpx.get(f"{api}/conversations/{cid}").json()
        if conversation["status"] in wanted:
            return conversation
        assert time.monotonic() < deadline, f"still {conversation['status']} after {within} s"
        time.sleep(0.1)


def lease_holder(client: redis.Redis, cid: str) -> str | None:
    """Who holds the conversation's lease now, if anyone."""
    value = client.get(f"tt:lease:{cid}")
    assert value is None or isinstance(value, bytes), value  # redis-py types a read as maybe-awaitable
    return None if value is None else value.decode()


def stored_messages(api: str, cid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(f"{api}/conversations/{cid}/messages?limit=200").json()["items"]
    return items


def test_events_of_a_worker_reach_every_web_process_with_replay(deployment: Deployment) -> None:
    env = {"THINKTANK_REDIS_URL": deployment.redis_url}
    url = deployment.database_url
    with (
        running_server(database_url=url, extra_env=env) as web_a,
        running_server(database_url=url, extra_env=env) as web_b,
        running_worker(database_url=url, redis_url=deployment.redis_url, latency="0.05-0.1"),
    ):
        api_a, api_b = f"{web_a.url}/api/v1", f"{web_b.url}/api/v1"
        cid = start_conversation(api_a, messages=6)
        results: dict[str, list[dict[str, str]]] = {}
        ready = threading.Barrier(3)

        def watch_whole_on_b() -> None:
            results["whole"] = read_until_finished(f"{api_b}/conversations/{cid}/events", ready=ready)

        def drop_on_a_and_resume_on_b() -> None:
            first = read_until_finished(f"{api_a}/conversations/{cid}/events", ready=ready, stop_after=12)
            rest = read_until_finished(
                f"{api_b}/conversations/{cid}/events", headers={"Last-Event-ID": first[-1]["id"]}
            )
            results["moved"] = first + rest

        threads = [
            threading.Thread(target=watch_whole_on_b),
            threading.Thread(target=drop_on_a_and_resume_on_b),
        ]
        for thread in threads:
            thread.start()
        ready.wait()
        assert httpx.put(f"{api_a}/conversations/{cid}/mode", json={"mode": "auto"}).status_code == 204
        for thread in threads:
            thread.join(timeout=60)
        whole, moved = results["whole"], results["moved"]
        assert [e["id"] for e in moved] == [e["id"] for e in whole], "no gap, no duplicate across processes"
        kinds = [json.loads(e["data"])["type"] for e in whole]
        assert kinds.count("message.completed") == 6
        deltas = "".join(
            json.loads(e["data"])["text"] for e in whole if json.loads(e["data"])["type"] == "token.delta"
        )
        messages = stored_messages(api_b, cid)
        assert deltas == "".join(m["text"] for m in messages if m["kind"] == "persona")
        # A reconnect with an id this Redis never issued is told to resync.
        stale = read_until_finished(
            f"{api_b}/conversations/{cid}/events", headers={"Last-Event-ID": "abc:1-0"}, stop_after=1
        )
        assert json.loads(stale[0]["data"])["type"] == "sync.required"


def test_steering_from_any_web_process_reaches_the_worker_that_drives(deployment: Deployment) -> None:
    env = {"THINKTANK_REDIS_URL": deployment.redis_url}
    url = deployment.database_url
    with (
        running_server(database_url=url, extra_env=env) as web_a,
        running_server(database_url=url, extra_env=env) as web_b,
        running_worker(database_url=url, redis_url=deployment.redis_url, latency="0.2-0.3"),
    ):
        api_a, api_b = f"{web_a.url}/api/v1", f"{web_b.url}/api/v1"
        cid = start_conversation(api_a, messages=40)
        assert httpx.put(f"{api_a}/conversations/{cid}/mode", json={"mode": "auto"}).status_code == 204
        wait_for_status(api_b, cid, {"running"})
        said = httpx.post(f"{api_b}/conversations/{cid}/messages", json={"text": "Please consider costs."})
        assert said.status_code == 201, said.text
        assert httpx.put(f"{api_b}/conversations/{cid}/speed", json={"speed": 10}).status_code == 204
        assert httpx.put(f"{api_b}/conversations/{cid}/mode", json={"mode": "manual"}).status_code == 204
        wait_for_status(api_a, cid, {"idle"})
        count = len(stored_messages(api_a, cid))
        # Manual mode: nobody takes turns by themselves. The events from here on show it: the only
        # turn that starts before the asked-for reply arrives is the one asked for.
        with httpx.stream("GET", f"{api_a}/conversations/{cid}/events", timeout=60) as response:
            turn = httpx.post(f"{api_a}/conversations/{cid}/turns", json={}, timeout=30)
            assert turn.status_code == 200, turn.text
            decided = 0
            for event in sse_events(response):
                data = json.loads(event["data"])
                decided += data["type"] == "turn.decided"
                if data["type"] == "message.completed" and data["message"]["kind"] == "persona":
                    break
        assert data["message"]["index"] == turn.json()["message"]["index"] == count
        assert decided == 1, "manual mode: nobody takes turns by themselves"
        messages = stored_messages(api_b, cid)
        assert [m["index"] for m in messages] == list(range(len(messages)))
        assert any(m["kind"] == "user" and m["text"] == "Please consider costs." for m in messages)
        assert len(messages) == count + 1


def test_killing_the_driving_worker_mid_turn_hands_the_conversation_over(deployment: Deployment) -> None:
    env = {"THINKTANK_REDIS_URL": deployment.redis_url, **FAST_TAKEOVER}
    url = deployment.database_url
    client = redis.Redis.from_url(deployment.redis_url)
    with (
        running_server(database_url=url, extra_env=env) as web,
        running_worker(
            database_url=url, redis_url=deployment.redis_url, latency="0.3-0.5", extra_env=FAST_TAKEOVER
        ) as first,
        running_worker(
            database_url=url, redis_url=deployment.redis_url, latency="0.3-0.5", extra_env=FAST_TAKEOVER
        ) as second,
    ):
        api = f"{web.url}/api/v1"
        cid = start_conversation(api, messages=8)
        with httpx.stream("GET", f"{api}/conversations/{cid}/events", timeout=60) as response:
            assert httpx.put(f"{api}/conversations/{cid}/mode", json={"mode": "auto"}).status_code == 204
            completed = 0
            for event in sse_events(response):
                kind = json.loads(event["data"])["type"]
                completed += kind == "message.completed"
                if completed >= 2 and kind == "token.delta":
                    break  # mid-stream of the third reply
        holder = lease_holder(client, cid)
        assert holder is not None
        driver, survivor = (first, second) if f":{first.pid}:" in holder else (second, first)
        driver.kill()
        finished = wait_for_status(api, cid, {"finished"}, within=60)
        assert finished["stop_reason"] == "reached 8 messages"
        messages = stored_messages(api, cid)
        assert [m["index"] for m in messages] == list(range(len(messages))), "no gap, no duplicate turn"
        assert sum(m["kind"] == "persona" for m in messages) == 8
        assert all(not m["incomplete"] for m in messages)
        # Auto mode for an ended conversation is refused, whichever process answers.
        again = httpx.put(f"{api}/conversations/{cid}/mode", json={"mode": "auto"})
        assert again.status_code == 400
        assert again.json()["error"]["message"] == "this conversation has ended (reached 8 messages)"
        assert f":{survivor.pid}:" in (lease_holder(client, cid) or "") or (lease_holder(client, cid) is None)
    client.close()


def test_a_batch_runs_on_the_workers_with_progress_and_a_total(deployment: Deployment) -> None:
    env = {"THINKTANK_REDIS_URL": deployment.redis_url}
    url = deployment.database_url
    with (
        running_server(database_url=url, extra_env=env) as web,
        running_worker(database_url=url, redis_url=deployment.redis_url, latency="0"),
    ):
        api = f"{web.url}/api/v1"
        response = httpx.post(
            f"{api}/batches",
            json={
                "name": "two topics",
                "topics": ["Should we raise prices?", "Should we open a free tier?"],
                "templates": ["security-review", "startup-product-planning"],
                "max_cost": "1.00",
                "messages": 3,
                "model": "scripted",
            },
        )
        assert response.status_code == 202, response.text
        batch = response.json()
        assert batch["progress"]["total"] == 4
        deadline = time.monotonic() + 60
        while batch["status"] != "finished":
            assert time.monotonic() < deadline, batch
            time.sleep(0.2)
            batch = httpx.get(f"{api}/batches/{batch['id']}").json()
        assert batch["progress"]["done"] == 4
        assert {run["status"] for run in batch["runs"]} == {"finished"}
        assert all(run["messages"] == 3 for run in batch["runs"])
        assert all(run["recommendation"] for run in batch["runs"])
        assert batch["total_cost_usd"] == "0"
        for run in batch["runs"]:
            conversation = httpx.get(f"{api}/conversations/{run['conversation_id']}").json()
            assert conversation["status"] == "finished"


def test_a_redis_outage_answers_503_loses_nothing_and_work_resumes(deployment: Deployment) -> None:
    env = {"THINKTANK_REDIS_URL": deployment.redis_url, **FAST_TAKEOVER}
    url = deployment.database_url
    with (
        running_server(database_url=url, extra_env=env) as web,
        running_worker(
            database_url=url, redis_url=deployment.redis_url, latency="0.2-0.3", extra_env=FAST_TAKEOVER
        ) as worker,
    ):
        api = f"{web.url}/api/v1"
        cid = start_conversation(api, messages=20)
        with httpx.stream("GET", f"{api}/conversations/{cid}/events", timeout=60) as response:
            assert httpx.put(f"{api}/conversations/{cid}/mode", json={"mode": "auto"}).status_code == 204
            completed, last_id = 0, ""
            for event in sse_events(response):
                last_id = event["id"]
                completed += json.loads(event["data"])["type"] == "message.completed"
                if completed >= 2:
                    break
        stop_redis()
        try:
            events = httpx.get(f"{api}/conversations/{cid}/events", timeout=10)
            assert events.status_code == 503
            assert events.json()["error"]["code"] == "service_unavailable"
            turn = httpx.post(f"{api}/conversations/{cid}/turns", json={}, timeout=10)
            assert turn.status_code == 503
            assert "Redis" in turn.json()["error"]["message"]
            # What is stored stays readable: the database does not depend on Redis.
            assert httpx.get(f"{api}/conversations/{cid}").status_code == 200
            # The worker cannot renew its lease: once it expires, the worker lets the conversation go.
            deadline = time.monotonic() + 30
            while f"lost the lease of conversation {cid}" not in worker.log():
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.1)
        finally:
            start_redis()
        finished = wait_for_status(api, cid, {"finished"}, within=90)
        assert finished["stop_reason"] == "reached 20 messages", worker.log()
        messages = stored_messages(api, cid)
        assert [m["index"] for m in messages] == list(range(len(messages))), "no gap, no duplicate turn"
        assert sum(m["kind"] == "persona" for m in messages) == 20
        # The client's old event id belongs to the Redis that went away: it is told to resync.
        again = read_until_finished(
            f"{api}/conversations/{cid}/events", headers={"Last-Event-ID": last_id}, stop_after=1
        )
        assert json.loads(again[0]["data"])["type"] == "sync.required"
