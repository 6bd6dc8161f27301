"""Steering a conversation that another process holds: the request goes to the lease holder.

Every process listens on its own channel (`tt:commands:{owner}`). A caller publishes a request
there and waits for the answer on a list only it reads (`tt:reply:{request id}`). The holder runs
the request on its live conversation and answers with the result, or with the error it raised,
which the caller raises again as the same kind of error (so a 409 stays a 409). A holder that no
longer holds the conversation answers "retry" and the caller looks again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from thinktank import errors

log = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 60


def channel_of(owner: str) -> str:
    return f"tt:commands:{owner}"


@dataclass(frozen=True, slots=True)
class Request:
    """An operation forwarded to the process that holds a conversation's lease."""

    op: str
    user_id: str
    conversation_id: str
    arguments: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "user_id": self.user_id,
            "conversation_id": self.conversation_id,
            "arguments": self.arguments,
        }


class NotHolder(Exception):
    """The process asked no longer holds the conversation: look for its holder again."""


Handler = Callable[[Request], Awaitable[Any]]


def encode_error(exc: BaseException) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, errors.UnknownIdError):
        body.update(id_kind=exc.kind, wanted=exc.wanted, suggestions=exc.suggestions)
    if isinstance(exc, errors.ProviderFailure):
        body.update(provider=exc.provider, status_code=exc.status_code)
    return body


_SIMPLE: dict[str, type[errors.UserError]] = {
    cls.__name__: cls
    for cls in (
        errors.UserError,
        errors.ConversationBusy,
        errors.ConversationOver,
        errors.BudgetExceeded,
        errors.InvalidModelIdError,
        errors.ConfigurationError,
    )
}


def decode_error(body: dict[str, Any]) -> Exception:
    kind, message = str(body.get("kind")), str(body.get("message"))
    if "id_kind" in body:
        return errors.UnknownIdError(
            str(body["id_kind"]), str(body["wanted"]), suggestions=list(body.get("suggestions") or [])
        )
    if "provider" in body:
        return errors.ProviderFailure(
            message, provider=str(body["provider"]), status_code=body["status_code"]
        )
    if kind in _SIMPLE:
        return _SIMPLE[kind](message)
    if issubclass(getattr(errors, kind, type), errors.UserError):
        return errors.UserError(message)
    return RuntimeError(f"the process running this conversation failed: {kind}: {message}")


class Commands:
    """Forwards operations on a conversation to the process holding its lease, over Redis pub/sub,
    and answers the ones sent here."""

    def __init__(self, redis: Redis, *, owner: str) -> None:
        self.redis = redis
        self.owner = owner
        self._listener: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    # --- the holder's side -----------------------------------------------------------------------

    async def serve(self, handler: Handler) -> None:
        """Answer requests for conversations this process holds, until `close`."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(channel_of(self.owner))

        async def listen() -> None:
            try:
                while True:
                    try:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    except RedisError:
                        await asyncio.sleep(1.0)
                        try:
                            await pubsub.subscribe(channel_of(self.owner))
                        except RedisError:
                            continue
                        continue
                    if message is None:
                        continue
                    task = asyncio.create_task(self._answer(handler, message["data"]))
                    self._handling.add(task)
                    task.add_done_callback(self._handling.discard)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

        self._listener = asyncio.create_task(listen(), name=f"commands for {self.owner}")

    async def _answer(self, handler: Handler, raw: bytes | str) -> None:
        envelope = json.loads(raw)
        request = Request(**envelope["request"])
        reply: dict[str, Any]
        try:
            reply = {"result": await handler(request)}
        except NotHolder:
            reply = {"retry": True}
        except Exception as exc:
            if not isinstance(exc, errors.ThinkTankError):
                log.exception("a forwarded %s failed", request.op)
            reply = {"error": encode_error(exc)}
        key = f"tt:reply:{envelope['id']}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.rpush(key, json.dumps(reply, default=str))
                pipe.expire(key, REPLY_TTL_SECONDS)
                await pipe.execute()
        except RedisError:
            log.warning("the answer to a forwarded %s could not be sent: Redis is unreachable", request.op)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        for task in list(self._handling):
            task.cancel()
        await asyncio.gather(*self._handling, return_exceptions=True)

    # --- the caller's side -----------------------------------------------------------------------

    async def call(self, holder: str, request: Request, *, wait_seconds: int) -> Any:
        """The holder's answer; NotHolder if it must be asked elsewhere."""
        request_id = secrets.token_hex(12)
        envelope = json.dumps({"id": request_id, "request": request.to_json()})
        if await self.redis.publish(channel_of(holder), envelope) == 0:
            raise NotHolder(holder)  # nobody listens there: the holder is gone, its lease will expire
        answer = await self.redis.blpop([f"tt:reply:{request_id}"], timeout=wait_seconds)  # type: ignore[misc]
        if answer is None:
            raise errors.ServiceUnavailable(
                "the worker running this conversation did not answer in time; try again shortly"
            )
        reply = json.loads(answer[1])
        if reply.get("retry"):
            raise NotHolder(holder)
        if "error" in reply:
            raise decode_error(reply["error"])
        return reply.get("result")
