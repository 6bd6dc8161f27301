"""Which model ids can be used right now, and why not the others."""

from __future__ import annotations

from fastapi import APIRouter

from thinktank.presenters.deps import CurrentUser, Service
from thinktank.presenters.models import model_availability
from thinktank.presenters.schemas import ModelAvailability

router = APIRouter(tags=["models"])


@router.get("/models", response_model=list[ModelAvailability])
async def list_models(service: Service, user: CurrentUser) -> list[ModelAvailability]:
    """The library's models, the bundled and scripted ones, and every model my local server (or the
    server's configured one) lists, with my keys."""
    return await model_availability(service, user)
