"""Sign-in with GitHub, Google or any OpenID Connect issuer (authorization code flow with PKCE).

Configured by environment: THINKTANK_GITHUB_CLIENT_ID/_SECRET, THINKTANK_GOOGLE_CLIENT_ID/_SECRET,
THINKTANK_OIDC_ISSUER with THINKTANK_OIDC_CLIENT_ID/_SECRET (endpoints from the issuer's discovery
document). The state, the PKCE verifier and an expiry travel in a short-lived HttpOnly cookie
signed with THINKTANK_SECRET_KEY, so no server-side storage is needed between the two legs. Only a
verified email address signs anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client

from thinktank.errors import ConfigurationError, UnknownIdError, UserError

STATE_LIFETIME_SECONDS = 600


class OAuthFailed(UserError):
    """A sign-in with GitHub, Google or OIDC did not complete (refused, expired or tampered)."""


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    """One OAuth/OIDC provider this deployment signs people in with, and its endpoints."""

    name: str
    client_id: str
    client_secret: str
    scope: str
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str | None = None
    emails_url: str | None = None
    issuer: str | None = None


def providers_from_env(env: Mapping[str, str]) -> dict[str, OAuthProvider]:
    def pair(prefix: str) -> tuple[str, str] | None:
        client_id, secret = (
            env.get(f"{prefix}_CLIENT_ID", "").strip(),
            env.get(f"{prefix}_CLIENT_SECRET", "").strip(),
        )
        if bool(client_id) != bool(secret):
            raise ConfigurationError(f"set both {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET, or neither")
        return (client_id, secret) if client_id else None

    providers: dict[str, OAuthProvider] = {}
    if github := pair("THINKTANK_GITHUB"):
        providers["github"] = OAuthProvider(
            "github",
            *github,
            scope="read:user user:email",
            authorize_url="https://github.com/login/oauth/authorize",
            token_url="https://github.com/login/oauth/access_token",
            emails_url="https://api.github.com/user/emails",
        )
    if google := pair("THINKTANK_GOOGLE"):
        providers["google"] = OAuthProvider(
            "google", *google, scope="openid email profile", issuer="https://accounts.google.com"
        )
    if oidc := pair("THINKTANK_OIDC"):
        issuer = env.get("THINKTANK_OIDC_ISSUER", "").strip().rstrip("/")
        if not issuer.startswith("https://"):
            raise ConfigurationError("THINKTANK_OIDC_ISSUER must be the issuer's https:// URL")
        providers["oidc"] = OAuthProvider("oidc", *oidc, scope="openid email profile", issuer=issuer)
    return providers


class OAuthSignIn:
    """The OAuth code flow: the redirect to the provider, then the callback that finds or makes the user."""

    def __init__(
        self,
        *,
        providers: Mapping[str, OAuthProvider],
        secret: str,
        public_url: str,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._providers = dict(providers)
        self._secret = secret.encode()
        self._public_url = public_url.rstrip("/")
        self._transport = transport

    @property
    def names(self) -> list[str]:
        return sorted(self._providers)

    def _client(self, provider: OAuthProvider) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scope=provider.scope,
            redirect_uri=f"{self._public_url}/api/v1/auth/oauth/{provider.name}/callback",
            code_challenge_method="S256",
            transport=self._transport,
            timeout=30.0,
        )

    async def _resolved(self, name: str) -> OAuthProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise UnknownIdError("sign-in provider", name, suggestions=self.names)
        if provider.issuer is None or provider.authorize_url:
            return provider
        async with httpx2.AsyncClient(transport=self._transport, timeout=30.0) as client:
            response = await client.get(f"{provider.issuer}/.well-known/openid-configuration")
        if response.status_code != 200:
            raise OAuthFailed(
                f"{name}: the issuer's discovery document is unavailable ({response.status_code})"
            )
        document: dict[str, Any] = response.json()
        resolved = replace(
            provider,
            authorize_url=document["authorization_endpoint"],
            token_url=document["token_endpoint"],
            userinfo_url=document.get("userinfo_endpoint"),
        )
        self._providers[name] = resolved
        return resolved

    def _sign(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    async def start(self, name: str) -> tuple[str, str]:
        """The provider's authorization URL, and the signed cookie that remembers this attempt."""
        provider = await self._resolved(name)
        verifier = secrets.token_urlsafe(48)
        async with self._client(provider) as client:
            url, state = client.create_authorization_url(provider.authorize_url, code_verifier=verifier)
        payload = f"{name}|{state}|{verifier}|{int(time.time()) + STATE_LIFETIME_SECONDS}"
        return url, f"{payload}|{self._sign(payload)}"

    async def finish(self, name: str, *, code: str, state: str, cookie: str | None) -> str:
        """Complete the flow; the verified email address of the person who signed in."""
        payload, _, signature = (cookie or "").rpartition("|")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            raise OAuthFailed("the sign-in attempt is unknown here; start again")
        cookie_name, cookie_state, verifier, expires = payload.split("|")
        if cookie_name != name or not hmac.compare_digest(cookie_state, state) or int(expires) < time.time():
            raise OAuthFailed("the sign-in attempt does not match or has expired; start again")
        provider = await self._resolved(name)
        async with self._client(provider) as client:
            try:
                await client.fetch_token(provider.token_url, code=code, code_verifier=verifier)
            except Exception as exc:
                raise OAuthFailed(f"{name} did not accept the sign-in: {type(exc).__name__}") from None
            return await self._verified_email(client, provider)

    async def _verified_email(self, client: AsyncOAuth2Client, provider: OAuthProvider) -> str:
        if provider.emails_url is not None:
            response = await client.get(
                provider.emails_url, headers={"Accept": "application/vnd.github+json"}
            )
            emails = response.json() if response.status_code == 200 else []
            chosen = next((e["email"] for e in emails if e.get("primary") and e.get("verified")), None)
        else:
            if provider.userinfo_url is None:
                raise OAuthFailed(f"{provider.name} offers no userinfo endpoint")
            response = await client.get(provider.userinfo_url)
            claims = response.json() if response.status_code == 200 else {}
            chosen = claims.get("email") if claims.get("email_verified") is True else None
        if not chosen:
            raise OAuthFailed(f"{provider.name} did not share a verified email address")
        return str(chosen).lower()
