"""Queries, all scoped by `user_id` and all keyword-only past the session.

Every function that reads a user's row filters by the user, so a row of another user is "not
found", exactly like a row that does not exist. They live in one module per concern (`users`,
`catalog`, `conversations`, `messages`, `costs`, `results`); this module gathers them so that
callers write `from thinktank.store import repository as repo` and `repo.get_conversation(...)`.
"""

from __future__ import annotations

from thinktank.store.catalog import count_template_use, sync_library
from thinktank.store.conversations import (
    active_members,
    all_conversations,
    auto_conversations,
    delete_conversation,
    forks_of,
    get_conversation,
    lineage,
    list_conversations,
    pause_running,
    save_members,
)
from thinktank.store.costs import (
    Spending,
    cost_row,
    daily_costs,
    load_totals,
    release_reservations,
    spending,
)
from thinktank.store.messages import (
    count_messages,
    find_turn,
    load_messages,
    message_costs,
    message_from_row,
    message_row,
    page_messages,
    remember_turn,
    with_cost,
)
from thinktank.store.results import latest_memo, list_batches, memo_row
from thinktank.store.users import (
    LOCAL_USER_ID,
    NotFound,
    delete_user_persona,
    ensure_local_user,
    get_user_persona,
    list_user_personas,
    save_user_persona,
    user_tier,
)

__all__ = [
    "LOCAL_USER_ID",
    "NotFound",
    "Spending",
    "active_members",
    "all_conversations",
    "auto_conversations",
    "cost_row",
    "count_messages",
    "count_template_use",
    "daily_costs",
    "delete_conversation",
    "delete_user_persona",
    "ensure_local_user",
    "find_turn",
    "forks_of",
    "get_conversation",
    "get_user_persona",
    "latest_memo",
    "lineage",
    "list_batches",
    "list_conversations",
    "list_user_personas",
    "load_messages",
    "load_totals",
    "memo_row",
    "message_costs",
    "message_from_row",
    "message_row",
    "page_messages",
    "pause_running",
    "release_reservations",
    "remember_turn",
    "save_members",
    "save_user_persona",
    "spending",
    "sync_library",
    "user_tier",
    "with_cost",
]
