from __future__ import annotations

from fastapi.testclient import TestClient

from thinktank.library.loader import load_library


def persona_body(**changes: object) -> dict[str, object]:
    body = load_library().persona("cfo").model_dump(mode="json")
    body.update(id="my-cfo", name="Pat Doe")
    body.update(changes)
    return body


def test_list_filter_search_and_get_personas(client: TestClient) -> None:
    everything = client.get("/api/v1/personas").json()
    assert len(everything) >= 24
    security = client.get("/api/v1/personas", params={"category": "security"}).json()
    assert {p["persona"]["id"] for p in security} >= {"security-expert"}
    assert all(p["persona"]["category"] == "Security" for p in security)
    found = client.get("/api/v1/personas", params={"search": "kubernetes"}).json()
    assert [p["persona"]["id"] for p in found] == ["devops-engineer"]
    one = client.get("/api/v1/personas/end-user").json()
    assert one["source"] == "library"
    assert one["persona"]["name"] == "Jamie Rivera"


def test_my_personas_create_update_duplicate_delete(client: TestClient) -> None:
    created = client.post("/api/v1/personas", json=persona_body())
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/personas/my-cfo").json()["source"] == "mine"
    assert client.post("/api/v1/personas", json=persona_body()).status_code == 400
    updated = client.put("/api/v1/personas/my-cfo", json=persona_body(role="Finance Chief"))
    assert updated.status_code == 200
    assert client.get("/api/v1/personas/my-cfo").json()["persona"]["role"] == "Finance Chief"
    copy = client.post("/api/v1/personas/ux-designer/duplicate")
    assert copy.status_code == 201
    assert copy.json()["persona"]["id"] == "ux-designer-copy"
    mine = [p["persona"]["id"] for p in client.get("/api/v1/personas").json() if p["source"] == "mine"]
    assert mine == ["my-cfo", "ux-designer-copy"]
    assert client.delete("/api/v1/personas/my-cfo").status_code == 204
    assert client.get("/api/v1/personas/my-cfo").status_code == 404
    assert client.delete("/api/v1/personas/my-cfo").status_code == 404


def test_invalid_personas_are_refused_naming_the_field(client: TestClient) -> None:
    short = client.post("/api/v1/personas", json=persona_body(system_prompt="You are Pat."))
    assert short.status_code == 422
    assert short.json()["error"]["code"] == "validation_failed"
    assert short.json()["error"]["message"].startswith("system_prompt:")
    huge = client.post("/api/v1/personas", json=persona_body(system_prompt="word " * 3000))
    assert huge.status_code == 422
    assert "system_prompt" in huge.json()["error"]["message"]
    bad_model = client.post("/api/v1/personas", json=persona_body(model="azure:gpt-4"))
    assert bad_model.status_code == 422
    assert "model" in bad_model.json()["error"]["message"]
    mismatch = client.put("/api/v1/personas/other", json=persona_body())
    assert mismatch.status_code == 400


def test_templates_with_computed_cost(client: TestClient) -> None:
    templates = client.get("/api/v1/templates").json()
    assert len(templates) >= 12
    planning = client.get("/api/v1/templates/startup-product-planning").json()
    assert float(planning["estimated_cost_usd"]) > 0
    assert planning["personas"] == ["product-manager", "senior-engineer", "ux-designer", "end-user"]
    missing = client.get("/api/v1/templates/startup-planing")
    assert missing.status_code == 404
    assert missing.json()["error"]["details"]["suggestions"] == ["startup-product-planning"]


def test_models_say_what_is_available_and_why_not(client: TestClient) -> None:
    models = {m["model_id"]: m for m in client.get("/api/v1/models").json()}
    assert models["scripted"]["available"] is True
    assert models["local:smollm2"]["available"] is True
    claude = models["anthropic:claude-3-7-sonnet-20250219"]
    assert claude["available"] is False
    assert "ANTHROPIC_API_KEY" in claude["reason"]
    assert claude["priced"] is True


def test_usage_shows_my_plan_and_what_i_used(client: TestClient) -> None:
    cid = client.post(
        "/api/v1/conversations", json={"template_id": "security-review", "model": "scripted", "seed": 1}
    ).json()["id"]
    client.post(f"/api/v1/conversations/{cid}/turns")
    usage = client.get("/api/v1/usage").json()
    assert usage["tier"] == "local"
    assert usage["day"]["tokens_used"] > 0
    assert usage["day"]["tokens_left"] is None
    assert usage["alerts"] == []
