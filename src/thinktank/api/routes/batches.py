"""Batch runs: many conversations (templates × topics) under one cost cap, with progress."""

from __future__ import annotations

from fastapi import APIRouter

from thinktank.batches import BatchPublic, BatchSpec
from thinktank.presenters.deps import CurrentUser, Service

router = APIRouter(tags=["batches"])


# Unset fields stay out: a list leaves out each batch's runs, a run the fields it has not reached.
@router.post("/batches", status_code=202, response_model=BatchPublic, response_model_exclude_unset=True)
async def start_batch(
    service: Service,
    user: CurrentUser,
    body: BatchSpec,
) -> BatchPublic:
    """Start a batch: every template on every topic, `concurrency` at a time, until `max_cost` (USD)
    is spent. Follow it with GET /batches/{id}: progress, each run's result and the total cost."""
    batch = await service.batches.create(user_id=user, spec=body)
    await service.batches.start(user_id=user, batch_id=batch.id)
    return batch


@router.get("/batches", response_model=list[BatchPublic], response_model_exclude_unset=True)
async def list_batches(service: Service, user: CurrentUser) -> list[BatchPublic]:
    return await service.batches.recent(user_id=user)


@router.get("/batches/{batch_id}", response_model=BatchPublic, response_model_exclude_unset=True)
async def read_batch(batch_id: str, service: Service, user: CurrentUser) -> BatchPublic:
    return await service.batches.get(user_id=user, batch_id=batch_id)
