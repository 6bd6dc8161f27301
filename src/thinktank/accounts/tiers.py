"""Plans and their limits, as configuration: `accounts/data/tiers.yaml` or THINKTANK_TIERS_FILE."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktank.errors import ConfigurationError, UnknownIdError


class Tier(BaseModel):
    """A plan: its token, concurrency and credit limits and its cost alerts (None: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = ""
    description: str = ""
    daily_tokens: int | None = Field(default=None, ge=0)
    monthly_tokens: int | None = Field(default=None, ge=0)
    concurrent_personas: int | None = Field(default=None, ge=1)
    monthly_credits_usd: Decimal | None = Field(default=None, ge=0)
    cost_alert_usd: Decimal | None = Field(default=None, ge=0)
    """Warn when the user's spend this month passes this."""
    model_cost_alert_usd: Decimal | None = Field(default=None, ge=0)
    """Warn when the user's spend on one provider:model this month passes this (seed §6.3: $10)."""


class Tiers:
    """The plans of this deployment, by name."""

    def __init__(self, tiers: dict[str, Tier]) -> None:
        self._tiers = tiers

    def __getitem__(self, name: str) -> Tier:
        try:
            return self._tiers[name]
        except KeyError:
            raise UnknownIdError("tier", name, suggestions=sorted(self._tiers)) from None

    @property
    def names(self) -> list[str]:
        return list(self._tiers)


def load_tiers(path: Path | None = None) -> Tiers:
    source = path or Path(str(resources.files("thinktank.accounts") / "data" / "tiers.yaml"))
    try:
        raw = yaml.safe_load(source.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read tiers from {source}: {exc}") from exc
    if not isinstance(raw, dict) or not raw:
        raise ConfigurationError(f"{source} must map tier names to their limits")
    tiers = {}
    for name, limits in raw.items():
        try:
            tiers[str(name)] = Tier.model_validate({**(limits or {}), "name": str(name)})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            raise ConfigurationError(f"{source}: {name}.{field}: {error['msg']}") from None
    return Tiers(tiers)
