"""Environment profiles (seed §6.2): what development, staging and production default to and demand.

| | development | staging | production |
|---|---|---|---|
| logs | text | JSON | JSON |
| model requests / tokens per minute, per user | unlimited | 10 / 10,000 | 60 / 100,000 |
| scripted model for users | yes | yes | refused |
| secrets | generated on first use | required from the environment | required from the environment |

THINKTANK_RATE_LIMIT_RPM / _TPM override the limits (0: none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from thinktank.accounts.ratelimit import RateLimits
from thinktank.errors import ConfigurationError, UserError
from thinktank.models.ids import LOCAL_DEFAULT, ModelId, parse_model_id
from thinktank.settings import Environment, Settings, check_secrets


@dataclass(frozen=True)
class Profile:
    """What a deployment environment implies: rate limits, whether users get the scripted model, and
    where secrets come from."""

    name: Environment
    requests_per_minute: int | None
    tokens_per_minute: int | None
    scripted_for_users: bool
    secrets_from_environment: bool


PROFILES: dict[Environment, Profile] = {
    "development": Profile(
        "development", None, None, scripted_for_users=True, secrets_from_environment=False
    ),
    "staging": Profile("staging", 10, 10_000, scripted_for_users=True, secrets_from_environment=True),
    "production": Profile("production", 60, 100_000, scripted_for_users=False, secrets_from_environment=True),
}

REQUIRED_SECRETS = ("THINKTANK_SECRET_KEY", "THINKTANK_MASTER_KEY", "THINKTANK_FINGERPRINT_KEY")


def profile_of(settings: Settings) -> Profile:
    return PROFILES[settings.environment]


def check_profile(settings: Settings) -> None:
    """Refuse to start a staging or production process that is not configured like one."""
    profile = profile_of(settings)
    if not profile.secrets_from_environment:
        return
    name = profile.name
    if settings.auth != "multi":
        raise ConfigurationError(f"THINKTANK_ENV={name} serves people who sign in: set THINKTANK_AUTH=multi")
    missing = [key for key in REQUIRED_SECRETS if not settings.env.get(key, "").strip()]
    if missing:
        raise ConfigurationError(
            f"THINKTANK_ENV={name} needs real secrets from the environment, not generated files: "
            f"set {', '.join(missing)}"
        )
    check_secrets(settings)
    if not settings.cookie_secure:
        raise ConfigurationError(
            f"THINKTANK_ENV={name} sends session cookies over HTTPS only: unset THINKTANK_COOKIE_SECURE"
        )
    if not settings.public_url.startswith("https://"):
        raise ConfigurationError(f"THINKTANK_ENV={name} needs an https:// THINKTANK_PUBLIC_URL")
    if not profile.scripted_for_users and parse_model_id(settings.substitute_model).provider == "scripted":
        raise ConfigurationError(
            f"THINKTANK_ENV={name} does not give users the scripted model: "
            "set THINKTANK_SUBSTITUTE_MODEL to a real or local model"
        )


def refuse_scripted(models: Iterable[ModelId | None], *, profile: Profile) -> None:
    """Production answers real people with real models: the scripted one is for development and tests."""
    if profile.scripted_for_users:
        return
    if any(model is not None and model.provider == "scripted" for model in models):
        raise UserError(
            f"the scripted model is for development and tests, not for {profile.name}: pick a real model"
        )


def offered_local_models(settings: Settings) -> list[ModelId]:
    """The local models users of a signed-in server may choose: the bundled one and the operator's
    substitute model, if it is local."""
    return [LOCAL_DEFAULT, parse_model_id(settings.substitute_model)]


def refuse_server_paths(models: Iterable[ModelId | None], *, offered: Iterable[ModelId]) -> None:
    """With sign-in, a `local:` model is one the server offers (the bundled model, the operator's
    substitute), never a path a user names: that would let anyone load, or probe for, any file."""
    allowed = {str(model) for model in offered}
    for model in models:
        if model is not None and model.provider == "local" and str(model) not in allowed:
            choices = ", ".join(sorted(m for m in allowed if m.startswith("local:")))
            raise UserError(f"local models on this server are {choices}; {model} is not one of them")


def rate_limits(settings: Settings) -> RateLimits:
    """The environment's limits, unless THINKTANK_RATE_LIMIT_RPM / _TPM say otherwise (0: none)."""
    profile = profile_of(settings)

    def chosen(override: int | None, default: int | None) -> int | None:
        value = default if override is None else override
        return value or None

    return RateLimits(
        requests_per_minute=chosen(settings.rate_limit_rpm, profile.requests_per_minute),
        tokens_per_minute=chosen(settings.rate_limit_tpm, profile.tokens_per_minute),
    )
