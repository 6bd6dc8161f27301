"""Conversations that live on the server: stored, restored, steered, and run in auto mode.

`ConversationService` (`service.py`) is the one door; the modules behind it each do one job (see
docs/architecture.md, "The conversations package")."""

from thinktank.conversations.operations import RunMode
from thinktank.conversations.registry import Live
from thinktank.conversations.service import ConversationService

__all__ = ["ConversationService", "Live", "RunMode"]
