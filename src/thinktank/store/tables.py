"""The database schema (seed §7), one class per table. Changes from the seed: docs/schema.md."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

MONEY = Numeric(18, 8)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC. PostgreSQL keeps the zone; SQLite keeps none and hands back naive values,
    which are UTC by construction (everything written is `now()` below): they get it back, so
    every read says the same `Z` as the write did."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of the tables; JSON columns for dicts and lists."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person who signs in (or the local user), with their plan."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    tier: Mapped[str] = mapped_column(String(40), default="free", server_default="free")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class UserPreferences(Base):
    """A user's settings, their retention choice among them."""

    __tablename__ = "user_preferences"
    __table_args__ = (
        CheckConstraint("data_retention IN ('none', 'session', 'permanent')", name="retention_kind"),
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    data_retention: Mapped[str] = mapped_column(String(16), default="permanent")
    allow_analytics: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_after_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now, onupdate=now)


class PlatformApiKey(Base):
    """A provider key of the deployment, sealed, for users without their own."""

    __tablename__ = "platform_api_keys"
    __table_args__ = (CheckConstraint("tier IN ('free', 'pro', 'enterprise')", name="platform_key_tier"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(40))
    encrypted_key: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(16), default="free")
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer)
    rate_limit_tpm: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class UserApiKey(Base):
    """A user's own provider key (or local server), sealed."""

    __tablename__ = "user_api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    encrypted_key: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    is_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    last_validated: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class PersonaTemplate(Base):
    """The built-in persona library, synced from the package data on start."""

    __tablename__ = "persona_templates"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    category: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str] = mapped_column(Text)
    default_model: Mapped[str] = mapped_column(String(200))
    expertise_areas: Mapped[list[Any]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class UserPersona(Base):
    """A user's own persona (created, edited or duplicated from the library)."""

    __tablename__ = "personas"
    __table_args__ = (UniqueConstraint("user_id", "slug", name="persona_slug_per_user"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now, onupdate=now)


class ConversationTemplateRow(Base):
    """A library template mirrored in the database, with its usage count and estimate."""

    __tablename__ = "conversation_templates"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    category: Mapped[str] = mapped_column(String(80))
    industry: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    personas: Mapped[list[Any]] = mapped_column(JSON)
    initial_prompt: Mapped[str] = mapped_column(Text)
    conversation_mode: Mapped[str] = mapped_column(String(20))
    estimated_messages: Mapped[int] = mapped_column(Integer)
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class Conversation(Base):
    """A conversation: its setup, status, run mode, summary and lineage."""

    __tablename__ = "conversations"
    __table_args__ = (Index("conversations_by_user_newest", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(String(80))
    mode: Mapped[str] = mapped_column(String(20))
    scorer: Mapped[str] = mapped_column(String(20), default="heuristic")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    run_mode: Mapped[str] = mapped_column(String(10), default="manual")
    speed: Mapped[int] = mapped_column(Integer, default=5)
    max_messages: Mapped[int | None] = mapped_column(Integer)
    max_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12), default="idle")
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_covers_upto: Mapped[int] = mapped_column(Integer, default=0)
    forked_from_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    """A fork shares its parent's messages up to `forked_at` (read from the parent, never copied)."""
    forked_at: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now, onupdate=now)


class ConversationMember(Base):
    """A persona on a conversation's panel (kept, inactive, after it leaves)."""

    __tablename__ = "conversation_members"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    persona_id: Mapped[str] = mapped_column(String(80))
    persona: Mapped[dict[str, Any]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class MessageRow(Base):
    """A message of a conversation, stored where it was said (forks read their prefix from the parent)."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "idx", name="message_position"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    speaker_id: Mapped[str] = mapped_column(String(80))
    speaker_name: Mapped[str] = mapped_column(String(80))
    speaker_role: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    model_id: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_s: Mapped[float | None] = mapped_column(Float)
    time_to_first_token_s: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class CostRecord(Base):
    """One charge: a reply, a score, a summary or a memo, with usage and raw and billed cost."""

    __tablename__ = "cost_records"
    __table_args__ = (Index("cost_records_by_user_day", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account: Mapped[str] = mapped_column(String(80))
    provider: Mapped[str | None] = mapped_column(String(40))
    model_id: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=1)
    raw_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    billed_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class ConversationSession(Base):
    """The seed's short-lived cache rows; we also keep POST /turns idempotency keys here."""

    __tablename__ = "conversation_sessions"
    __table_args__ = (
        CheckConstraint("cache_type IN ('persona', 'context', 'both', 'turn')", name="session_cache_type"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    cache_key: Mapped[str] = mapped_column(String(300), unique=True)
    provider: Mapped[str | None] = mapped_column(String(40))
    cache_type: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ttl_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class UsageCounter(Base):
    """Tokens and billed cost per user and period, with in-flight reservations, for atomic budgets."""

    __tablename__ = "usage_counters"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)
    tokens_reserved: Mapped[int] = mapped_column(Integer, default=0)
    billed_used: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    billed_reserved: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now, onupdate=now)


class ApiToken(Base):
    """Personal API tokens for scripts: shown once, stored as a hash, revocable."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginToken(Base):
    """A magic sign-in link: single use, short-lived, stored as a hash."""

    __tablename__ = "login_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class BrowserSession(Base):
    """A signed-in browser: the cookie holds a random token whose hash is stored here."""

    __tablename__ = "browser_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class MemoRow(Base):
    """A decision memo written for a conversation (the newest is the current one)."""

    __tablename__ = "memos"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    model_id: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)


class BatchRow(Base):
    """Many conversations run as one job (templates × topics), with a cap on their total cost."""

    __tablename__ = "batches"
    __table_args__ = (Index("batches_by_user_newest", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    runs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """One entry per run: template, topic, and once started its conversation, status and cost."""
    status: Mapped[str] = mapped_column(String(12), default="queued")
    max_cost: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
