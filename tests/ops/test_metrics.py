"""Prometheus /metrics: requests by route, turns, tokens and cost by provider and model, breakers,
SSE clients."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_requests_turns_tokens_and_cost_by_model(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "d",
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        cid = client.post(
            "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted"}
        ).json()["id"]
        for _ in range(3):
            assert client.post(f"/api/v1/conversations/{cid}/turns", json={}).status_code == 200
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    route = "/api/v1/conversations/{conversation_id}/turns"
    assert (
        found[("thinktank_http_requests_total", (("method", "POST"), ("route", route), ("status", "200")))]
        == 3
    )
    assert found[("thinktank_turns_total", (("outcome", "complete"),))] == 3
    output = found[
        ("thinktank_tokens_total", (("direction", "output"), ("model", "scripted"), ("provider", "scripted")))
    ]
    assert output > 0
    assert (
        "thinktank_cost_usd_total",
        (("kind", "billed"), ("model", "scripted"), ("provider", "scripted")),
    ) in found
    assert found[("thinktank_sse_clients", ())] == 0
    assert found[("thinktank_live_conversations", ())] == 1
    assert found[("thinktank_breaker_state", (("provider", "scripted"),))] == 0
    assert not any(name == "thinktank_queue_depth" and value for (name, _), value in found.items())
