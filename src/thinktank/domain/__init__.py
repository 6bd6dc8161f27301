"""Plain types shared by every layer."""

from thinktank.domain.conversation import (
    Alternative,
    Message,
    MessageKind,
    TurnDecision,
    Usage,
)
from thinktank.domain.library import (
    DISCUSSION_MODES,
    MIN_SYSTEM_PROMPT_WORDS,
    ConversationTemplate,
    DiscussionMode,
    Persona,
)

__all__ = [
    "DISCUSSION_MODES",
    "MIN_SYSTEM_PROMPT_WORDS",
    "Alternative",
    "ConversationTemplate",
    "DiscussionMode",
    "Message",
    "MessageKind",
    "Persona",
    "TurnDecision",
    "Usage",
]
