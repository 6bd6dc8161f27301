"""What a user without keys is told: what will answer, what it costs here, how to do better."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.test_local_server_routes import LM_STUDIO, Servers, client, db_path, net

__all__ = ["client", "db_path", "net"]  # fixtures


def test_the_first_run_notice_says_what_will_answer_until_a_server_or_key_is_added(
    client: TestClient, net: Servers
) -> None:
    for page in ("/", "/new"):
        text = client.get(page).text
        assert 'id="first-run"' in text
        assert "scripted demo" in text
        assert "add an API key" in text
        assert "local server" in text
    assert "Ollama is running" not in text
    client.put("/api/v1/local-server", json={"base_url": LM_STUDIO})
    assert 'id="first-run"' not in client.get("/").text


def test_the_notice_points_at_an_ollama_running_here(client: TestClient, net: Servers) -> None:
    net.ollama = ["llama3.2:3b"]
    assert "Ollama is running on this machine with 1 model(s)" in client.get("/").text


def test_the_estimate_prices_what_will_answer_beside_the_wanted_models(client: TestClient) -> None:
    fragment = client.get(
        "/ui/estimate", params={"persona_ids": ["cfo", "ux-designer"], "topic": "Pricing"}
    ).text
    assert "Estimated cost here: free" in fragment
    assert "own models it would be $" in fragment
    empty = client.get("/ui/estimate", params={"topic": "Pricing"}).text
    assert "--persona" not in empty
    assert "choose personas" in empty
    priced = client.get(
        "/ui/estimate",
        params={"persona_ids": ["cfo", "ux-designer"], "topic": "Pricing", "model": "scripted"},
    ).text
    assert "Estimated cost: $0.0000" in priced  # what runs is what was asked for: one figure


def test_templates_carry_both_costs(client: TestClient) -> None:
    template = client.get("/api/v1/templates/pricing-strategy").json()
    assert template["running_cost_usd"] == "0.0000"
    assert float(template["estimated_cost_usd"]) > 0
    assert set(template["runs_on"]) == {"scripted"}
