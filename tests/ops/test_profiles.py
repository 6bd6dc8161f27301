"""Environment profiles: production starts only with real secrets and never gives users the
scripted model; development stays as easy as `make run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from thinktank.errors import ConfigurationError
from thinktank.ops.profiles import check_profile
from thinktank.settings import Settings

SECRETS = {
    "THINKTANK_SECRET_KEY": "s" * 40,
    "THINKTANK_MASTER_KEY": "bWFzdGVyLWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=",
    "THINKTANK_FINGERPRINT_KEY": "ZmluZ2VycHJpbnQta2V5LWZvci10ZXN0cy0zMmJ5dGU=",
}


def production(**env: str) -> Settings:
    return Settings.from_env(
        {
            "THINKTANK_ENV": "production",
            "THINKTANK_AUTH": "multi",
            "THINKTANK_PUBLIC_URL": "https://thinktank.example.com",
            "THINKTANK_SUBSTITUTE_MODEL": "local:smollm2",
            **SECRETS,
            **env,
        }
    )


def test_development_asks_for_nothing() -> None:
    check_profile(Settings.from_env({}))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"THINKTANK_AUTH": "local"}, "THINKTANK_AUTH=multi"),
        ({"THINKTANK_MASTER_KEY": ""}, "THINKTANK_MASTER_KEY"),
        ({"THINKTANK_SECRET_KEY": "change-me"}, "default or too short"),
        ({"THINKTANK_PUBLIC_URL": "http://thinktank.example.com"}, "https://"),
        ({"THINKTANK_COOKIE_SECURE": "0"}, "HTTPS only"),
        ({"THINKTANK_SUBSTITUTE_MODEL": "scripted"}, "scripted model"),
    ],
)
def test_production_refuses_to_start_misconfigured(change: dict[str, str], complaint: str) -> None:
    check_profile(production())
    with pytest.raises(ConfigurationError, match=complaint):
        check_profile(production(**change))


def test_an_unknown_environment_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="development, staging, production"):
        Settings.from_env({"THINKTANK_ENV": "prod"})


def test_production_refuses_the_scripted_model_for_users(tmp_path: Path) -> None:
    import asyncio

    from tests.api.conftest import make_users
    from tests.store.test_migrations import upgrade
    from thinktank.api.app import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    (_, token), _ = asyncio.run(make_users(url))
    settings = production(THINKTANK_DATABASE_URL=url, THINKTANK_DATA_DIR=str(tmp_path / "d"))
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        refused = client.post(
            "/api/v1/conversations",
            json={"template_id": "security-review", "model": "scripted"},
            headers=headers,
        )
        assert refused.status_code == 400
        assert "scripted model is for development" in refused.json()["error"]["message"]
        persona = client.get("/api/v1/personas/cfo", headers=headers).json()["persona"]
        persona.update(id="my-scripted-cfo", model="scripted", fallbacks=[])
        custom = client.post(
            "/api/v1/conversations",
            json={"topic": "Budget?", "personas": [persona], "persona_ids": ["cfo"]},
            headers=headers,
        )
        assert custom.status_code == 400, custom.text
        allowed = client.post(
            "/api/v1/conversations", json={"template_id": "security-review"}, headers=headers
        )
        assert allowed.status_code == 201, allowed.text
