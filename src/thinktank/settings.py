"""Settings read from the environment, at the edge only (CLI now, the server later)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import platformdirs

from thinktank.errors import ConfigurationError
from thinktank.models.keys import ProviderKeys
from thinktank.models.resilience.deadline import DEFAULT_FIRST_BYTE_SECONDS, DEFAULT_IDLE_SECONDS
from thinktank.models.scripted import Latency
from thinktank.pricing.prices import DEFAULT_MARKUP

SEED_SCRIPTED_LATENCY = Latency(0.5, 2.0)
Environment = Literal["development", "staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "staging", "production")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read from the environment at the edge (`Settings.from_env`)."""

    keys: ProviderKeys = field(default_factory=ProviderKeys)
    library_dir: Path | None = None
    markup: Decimal = DEFAULT_MARKUP
    scripted_latency: Latency = SEED_SCRIPTED_LATENCY
    database_url: str | None = None
    """None: a SQLite file in the data directory."""
    data_dir: Path | None = None
    """None: the user's data directory (XDG), e.g. ~/.local/share/thinktank."""
    auth: Literal["local", "multi"] = "local"
    """local: one implicit user, loopback only; multi: every request signs in."""
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    """Where users reach the server: the base of sign-in links."""
    cookie_secure: bool = True
    smtp_url: str | None = None
    mail_from: str = "ThinkTank <no-reply@localhost>"
    tiers_file: Path | None = None
    """None: the plans shipped in the package."""
    substitute_model: str = "local:smollm2"
    """Stands in for a persona whose own models have no key here."""
    redis_url: str | None = None
    """None: one process, in-process events; set: Redis events, leases, queue and counters."""
    lease_seconds: float = 10.0
    """How soon another worker takes over a conversation whose worker died."""
    model_first_byte_timeout: float = DEFAULT_FIRST_BYTE_SECONDS
    """Seconds a provider gets to connect and start streaming a reply, per attempt."""
    model_idle_timeout: float = DEFAULT_IDLE_SECONDS
    """Seconds a streaming reply may go silent between chunks before the attempt fails."""
    environment: Environment = "development"
    rate_limit_rpm: int | None = None
    """Model requests a minute per user; None: the environment's default; 0: no limit."""
    rate_limit_tpm: int | None = None
    sentry_dsn: str | None = None
    log_format: Literal["json", "text"] = "text"
    env: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """The environment these settings came from (for secrets read on demand, never logged)."""

    def resolved_data_dir(self) -> Path:
        data_dir = self.data_dir or Path(platformdirs.user_data_dir("thinktank", appauthor=False))
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # keys, the database and its conversations: the owner's alone
        return data_dir

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir() / 'thinktank.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        library = env.get("THINKTANK_LIBRARY_DIR", "").strip()
        environment = _environment(env.get("THINKTANK_ENV", ""))
        return cls(
            keys=ProviderKeys.from_env(env),
            library_dir=Path(library).expanduser() if library else None,
            markup=_decimal(env, "THINKTANK_MARKUP", DEFAULT_MARKUP),
            scripted_latency=_latency(env, "THINKTANK_SCRIPTED_LATENCY", SEED_SCRIPTED_LATENCY),
            database_url=_database_url(env.get("THINKTANK_DATABASE_URL", "").strip() or None),
            data_dir=_path(env, "THINKTANK_DATA_DIR"),
            tiers_file=_path(env, "THINKTANK_TIERS_FILE"),
            auth=_auth_mode(env.get("THINKTANK_AUTH", "local")),
            secret_key=env.get("THINKTANK_SECRET_KEY", "").strip() or None,
            public_url=env.get("THINKTANK_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000",
            cookie_secure=env.get("THINKTANK_COOKIE_SECURE", "1").strip().lower() not in ("0", "false", "no"),
            smtp_url=env.get("THINKTANK_SMTP_URL", "").strip() or None,
            mail_from=env.get("THINKTANK_MAIL_FROM", "").strip() or "ThinkTank <no-reply@localhost>",
            substitute_model=env.get("THINKTANK_SUBSTITUTE_MODEL", "").strip() or "local:smollm2",
            redis_url=_redis_url(env.get("THINKTANK_REDIS_URL", "").strip() or None),
            lease_seconds=_seconds(env, "THINKTANK_LEASE_SECONDS", 10.0),
            model_first_byte_timeout=_seconds(
                env, "THINKTANK_MODEL_FIRST_BYTE_TIMEOUT", DEFAULT_FIRST_BYTE_SECONDS
            ),
            model_idle_timeout=_seconds(env, "THINKTANK_MODEL_IDLE_TIMEOUT", DEFAULT_IDLE_SECONDS),
            environment=environment,
            rate_limit_rpm=_count(env, "THINKTANK_RATE_LIMIT_RPM"),
            rate_limit_tpm=_count(env, "THINKTANK_RATE_LIMIT_TPM"),
            sentry_dsn=env.get("SENTRY_DSN", "").strip() or None,
            log_format=_log_format(env.get("THINKTANK_LOG_FORMAT", ""), environment),
            env={k: v for k, v in env.items() if k.startswith("THINKTANK_")},
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


WEAK_SECRETS = frozenset({"change-me", "changeme", "secret", "password", "thinktank", "development"})
MIN_SECRET_CHARS = 32


def _auth_mode(value: str) -> Literal["local", "multi"]:
    value = value.strip().lower() or "local"
    if value == "local":
        return "local"
    if value == "multi":
        return "multi"
    raise ConfigurationError(f"THINKTANK_AUTH must be 'local' or 'multi', not {value!r}")


def check_secrets(settings: Settings) -> None:
    """Multi-user mode never starts on a default, missing or short secret."""
    if settings.auth != "multi":
        return
    secret = settings.secret_key
    if secret is None:
        raise ConfigurationError(
            "THINKTANK_AUTH=multi needs THINKTANK_SECRET_KEY (at least 32 random characters)"
        )
    if secret.lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_CHARS:
        raise ConfigurationError(
            "THINKTANK_SECRET_KEY is a default or too short: use at least 32 random characters"
        )


def _count(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ConfigurationError(f"{name}={raw!r} must be a whole number (0: no limit)")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from None
    if not 1 <= value <= 600:
        raise ConfigurationError(f"{name}={raw!r} must be between 1 and 600 seconds")
    return value


def _environment(value: str) -> Environment:
    value = value.strip().lower() or "development"
    for name in ENVIRONMENTS:
        if value == name:
            return name
    raise ConfigurationError(f"THINKTANK_ENV must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")


def _log_format(value: str, environment: Environment) -> Literal["json", "text"]:
    value = value.strip().lower()
    if not value:
        # Machines read the logs of staging and production; a person reads them on their own machine.
        return "text" if environment == "development" else "json"
    if value == "json":
        return "json"
    if value == "text":
        return "text"
    raise ConfigurationError(f"THINKTANK_LOG_FORMAT must be 'json' or 'text', not {value!r}")


def _redis_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        # Not echoed: a Redis URL may carry a password.
        raise ConfigurationError("THINKTANK_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    return url


def _database_url(url: str | None) -> str | None:
    """Accept the usual spellings and pick the async drivers we ship."""
    if url is None:
        return None
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ConfigurationError(f"THINKTANK_DATABASE_URL must be a postgresql:// or sqlite:/// URL, not {url!r}")


def _decimal(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if not value.is_finite() or value < 1:
        raise ConfigurationError(f"{name}={raw!r} must be a number of at least 1 (1.2 means 20% markup)")
    return value


def _latency(env: Mapping[str, str], name: str, default: Latency) -> Latency:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return Latency.parse(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}={raw!r}: {exc}") from None
