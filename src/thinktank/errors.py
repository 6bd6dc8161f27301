"""Every error ThinkTank raises on purpose, in one tree.

    ThinkTankError
    ├── UserError                      the caller asked for something wrong; fix the input
    │   ├── UnknownIdError             a persona/template/model id that does not exist (carries suggestions)
    │   ├── InvalidModelIdError        a model id that does not parse (`provider:model`)
    │   ├── LibraryError               a persona or template file is invalid (names the file and the field)
    │   ├── ConversationBusy           a turn is already being generated in this conversation
    │   ├── ConversationOver           the conversation was stopped or finished
    │   ├── BudgetExceeded             the user's plan allows no more tokens or credits now
    │   ├── NotSignedIn                multi-user mode and no valid credentials
    │   ├── CsrfFailed                 a cookie-authenticated change without the CSRF token
    │   ├── TooManyAttempts            sign-in rate limit; carries `retry_after`
    │   └── ConfigurationError         a setting or environment variable is invalid or missing
    │       └── NetworkModelsForbidden a real provider call while the process forbids them (tests)
    ├── ServiceUnavailable             Redis, a worker or the process holding a conversation is away (503)
    │   └── ProviderUnreachable        a provider could not be reached to check a new key (503)
    ├── ServerFault                    this deployment is broken, not the request; the operator must act (500)
    │   └── DecryptionError            a stored secret cannot be opened: master key changed or lost
    └── ProviderFailure                a model provider (or our local model) failed; carries `provider`
        ├── TransientFailure           worth retrying after a pause
        │   ├── RateLimited            429 and friends; `retry_after` seconds when the provider said
        │   ├── ProviderTimeout        the request or the connection timed out
        │   └── ProviderUnavailable    5xx, overloaded, connection refused
        │       └── CircuitOpen        our breaker is failing fast for this provider
        └── PermanentFailure           retrying the same request cannot help
            ├── Unauthorized           missing, wrong or revoked key; no permission for the model
            ├── InvalidRequest         the provider rejected the request (bad model name, too long, ...)
            ├── ContentRefused         the provider's safety filter refused the content
            ├── QuotaExceeded          the account's credits or quota are used up
            └── ModelFailed            a local model failed to load or to generate

A provider's own words (its error body) can echo the key it was sent: users are shown
`public_message(failure)`, a message made from the failure's class, never `str(failure)`.

The retry wrapper retries `TransientFailure` only; the circuit breaker counts `TransientFailure`;
the fallback chain moves on after any `ProviderFailure`. A `UserError` never reaches a provider.
"""

from __future__ import annotations


class ThinkTankError(Exception):
    """Base of every error ThinkTank raises on purpose."""


class UserError(ThinkTankError):
    """The caller's input is wrong: the CLI exits 2, the API answers 4xx."""


class UnknownIdError(UserError):
    """A persona, template, model or other id that does not exist; carries close matches."""

    def __init__(self, kind: str, wanted: str, *, suggestions: list[str] | None = None) -> None:
        self.kind = kind
        self.wanted = wanted
        self.suggestions = suggestions or []
        message = f"unknown {kind} {wanted!r}"
        if self.suggestions:
            message += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(message)


class InvalidModelIdError(UserError):
    """A model id that does not parse as `provider:model`."""


class LibraryError(UserError):
    """A persona or template file is invalid; names the file and the field."""

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None) -> None:
        self.path = path
        self.field = field
        where = path or "<library>"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {message}")


class ConversationBusy(UserError):
    """A turn is already being generated in this conversation."""


class ConversationOver(UserError):
    """The conversation was stopped or finished: it takes no more turns."""


class BudgetExceeded(UserError):
    """The user's plan allows no more tokens or credits now."""


class NotSignedIn(UserError):
    """Multi-user mode and no valid credentials."""


class CsrfFailed(UserError):
    """A cookie-authenticated change came without the CSRF token."""


class TooManyAttempts(UserError):
    """A rate limit is reached; `retry_after` says when to try again."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ConfigurationError(UserError):
    """A setting or environment variable is invalid or missing."""


class NetworkModelsForbidden(ConfigurationError):
    """A real network model call was attempted while the process-wide switch forbids it (tests)."""


class ServiceUnavailable(ThinkTankError):
    """A service the deployment depends on (Redis, a worker) cannot be reached: try again shortly.
    Not the caller's mistake and not a provider's: the API answers 503."""


class ProviderUnreachable(ServiceUnavailable):
    """A provider could not be reached (or timed out) while checking a new key; nothing was stored."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        super().__init__(f"{provider} could not be reached to check this key; nothing was saved, try again")


class ServerFault(ThinkTankError):
    """The deployment itself is broken (not the caller's input, not a provider): the API answers 500
    with a readable body, the CLI exits 1 with one line, and the operator has to act."""


class DecryptionError(ServerFault):
    """A sealed secret could not be opened: wrong or missing master key, or tampered data."""


class ProviderFailure(ThinkTankError):
    """A model call failed for a reason on the provider's side (or the network between)."""

    def __init__(self, message: str, *, provider: str, status_code: int | None = None) -> None:
        self.provider = provider
        self.status_code = status_code
        super().__init__(message)


class TransientFailure(ProviderFailure):
    """A provider failure worth retrying after a pause."""


class RateLimited(TransientFailure):
    """The provider throttled us (429 and friends); `retry_after` when it said."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, status_code=status_code)


class ProviderTimeout(TransientFailure):
    """The request or the connection to the provider timed out."""


class ProviderUnavailable(TransientFailure):
    """The provider is down or overloaded (5xx, connection refused)."""


class CircuitOpen(ProviderUnavailable):
    """Our circuit breaker fails fast for this provider; `retry_in` seconds until it tries again."""

    def __init__(self, provider: str, *, retry_in: float) -> None:
        self.retry_in = retry_in
        super().__init__(
            f"{provider} is failing; requests to it are paused for {retry_in:.0f} s more",
            provider=provider,
        )


class PermanentFailure(ProviderFailure):
    """A provider failure that retrying the same request cannot fix."""


class Unauthorized(PermanentFailure):
    """A missing, wrong or revoked key, or no permission for the model."""


class InvalidRequest(PermanentFailure):
    """The provider rejected the request (bad model name, too long, ...)."""


class ContentRefused(PermanentFailure):
    """The provider's safety filter refused the content."""


class QuotaExceeded(PermanentFailure):
    """The provider account's credits or quota are used up."""


class ModelFailed(PermanentFailure):
    """A local model failed to load or to generate."""


_PUBLIC_MESSAGES: list[tuple[type[ProviderFailure], str]] = [
    (CircuitOpen, "{provider} is failing; requests to it are paused for a moment"),
    (RateLimited, "{provider} is rate limiting requests"),
    (ProviderTimeout, "{provider} did not answer in time"),
    (ProviderUnavailable, "{provider} is unavailable"),
    (Unauthorized, "{provider} rejected the API key (missing, wrong or revoked)"),
    (ContentRefused, "{provider}'s content filter refused to answer"),
    (QuotaExceeded, "the {provider} account's quota or credits are used up"),
    (InvalidRequest, "{provider} rejected the request"),
    (ModelFailed, "the local model could not load or generate"),
]


def public_message(failure: ProviderFailure) -> str:
    """What a user may be told of a provider's failure: its kind, provider and HTTP status, never
    the provider's own text (it can carry a key or a server path)."""
    for kind, template in _PUBLIC_MESSAGES:
        if isinstance(failure, kind):
            text = template.format(provider=failure.provider)
            break
    else:
        text = f"{failure.provider} failed"
    if failure.status_code is not None:
        text += f" (HTTP {failure.status_code})"
    return f"{type(failure).__name__}: {text}"
