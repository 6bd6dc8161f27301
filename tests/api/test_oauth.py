"""Sign-in with GitHub and with an OpenID Connect issuer, against fake providers on the transport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SECRET
from tests.store.test_migrations import upgrade
from thinktank.api.app import create_app
from thinktank.models.scripted import NO_LATENCY
from thinktank.settings import Settings

ISSUER = "https://id.example.com"


class FakeIdentityProvider:
    def __init__(self) -> None:
        self.email_verified = True
        self.token_requests: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return httpx2.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "userinfo_endpoint": f"{ISSUER}/userinfo",
                },
            )
        if url in (f"{ISSUER}/token", "https://github.com/login/oauth/access_token"):
            form = parse_qs(request.content.decode())
            self.token_requests.append(form)
            if form.get("code") != ["good-code"]:
                return httpx2.Response(400, json={"error": "invalid_grant"})
            return httpx2.Response(
                200, json={"access_token": "at-123", "token_type": "bearer", "expires_in": 3600}
            )
        assert request.headers["authorization"] == "Bearer at-123"
        if url == f"{ISSUER}/userinfo":
            return httpx2.Response(
                200, json={"sub": "1", "email": "Hana@Example.com", "email_verified": self.email_verified}
            )
        if url == "https://api.github.com/user/emails":
            return httpx2.Response(
                200,
                json=[
                    {"email": "old@example.com", "primary": False, "verified": True},
                    {"email": "ivo@example.com", "primary": True, "verified": self.email_verified},
                ],
            )
        return httpx2.Response(404)


@pytest.fixture
def idp() -> FakeIdentityProvider:
    return FakeIdentityProvider()


@pytest.fixture
def client(database_url: str, tmp_path: Path, idp: FakeIdentityProvider) -> Iterator[TestClient]:
    if database_url.startswith("sqlite"):
        upgrade(database_url)
    env = {
        "THINKTANK_GITHUB_CLIENT_ID": "gh-id",
        "THINKTANK_GITHUB_CLIENT_SECRET": "gh-secret",
        "THINKTANK_OIDC_ISSUER": ISSUER,
        "THINKTANK_OIDC_CLIENT_ID": "oidc-id",
        "THINKTANK_OIDC_CLIENT_SECRET": "oidc-secret",
    }
    settings = Settings(
        database_url=database_url,
        scripted_latency=NO_LATENCY,
        data_dir=tmp_path / "data",
        auth="multi",
        secret_key=SECRET,
        cookie_secure=False,
        public_url="http://testserver",
        env=env,
    )
    with TestClient(create_app(settings, oauth_transport=httpx2.MockTransport(idp))) as test_client:
        yield test_client


def begin(client: TestClient, provider: str) -> dict[str, list[str]]:
    started = client.get(f"/api/v1/auth/oauth/{provider}/start", follow_redirects=False)
    assert started.status_code == 302
    return parse_qs(urlsplit(started.headers["location"]).query)


@pytest.mark.parametrize(("provider", "email"), [("oidc", "hana@example.com"), ("github", "ivo@example.com")])
def test_sign_in_with_a_provider_opens_a_session(
    client: TestClient, idp: FakeIdentityProvider, provider: str, email: str
) -> None:
    query = begin(client, provider)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"http://testserver/api/v1/auth/oauth/{provider}/callback"]
    done = client.get(
        f"/api/v1/auth/oauth/{provider}/callback",
        params={"code": "good-code", "state": query["state"][0]},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "code_verifier" in idp.token_requests[-1], "PKCE: the verifier goes with the code"
    assert client.get("/api/v1/auth/session").json()["user"]["email"] == email


def test_a_forged_state_a_bad_code_or_an_unverified_email_signs_nobody_in(
    client: TestClient, idp: FakeIdentityProvider
) -> None:
    query = begin(client, "oidc")
    forged = client.get("/api/v1/auth/oauth/oidc/callback", params={"code": "good-code", "state": "forged"})
    assert forged.status_code == 400
    bad_code = client.get(
        "/api/v1/auth/oauth/oidc/callback", params={"code": "bad", "state": query["state"][0]}
    )
    assert bad_code.status_code == 400
    idp.email_verified = False
    query = begin(client, "oidc")
    unverified = client.get(
        "/api/v1/auth/oauth/oidc/callback", params={"code": "good-code", "state": query["state"][0]}
    )
    assert unverified.status_code == 400
    assert "verified email" in unverified.json()["error"]["message"]
    assert client.get("/api/v1/auth/session").status_code == 401
    unknown = client.get("/api/v1/auth/oauth/myspace/start", follow_redirects=False)
    assert unknown.status_code == 404
    assert json.loads(unknown.text)["error"]["details"]["suggestions"] == ["github", "oidc"]
