"""The room explains a pause or a stop only when nobody asked for it: one rule, used by the page as
rendered and by the live event that updates it."""

from __future__ import annotations

import pytest

from thinktank.domain.vocabulary import USER_REASONS, stopped_on_its_own
from thinktank.engine.events import StateChanged


@pytest.mark.parametrize("reason", sorted(USER_REASONS))
@pytest.mark.parametrize("status", ["paused", "stopped", "idle"])
def test_what_a_person_did_is_not_a_stall(status: str, reason: str) -> None:
    assert not stopped_on_its_own(status, reason)


@pytest.mark.parametrize(
    "reason",
    [
        "paused after 3 turns in a row produced no reply (the last: Alex: the model's reply was empty)",
        "paused after an error from Alex Chen's model",
        "the budget of $0.50 is spent",
    ],
)
def test_a_run_that_stopped_itself_says_why(reason: str) -> None:
    assert stopped_on_its_own("paused", reason)
    assert stopped_on_its_own("stopped", reason)
    assert not stopped_on_its_own("running", reason), "a running discussion has nothing to explain"
    assert not stopped_on_its_own("finished", reason), "reaching the end is no stall"


def test_the_live_event_carries_the_same_verdict() -> None:
    assert StateChanged("paused", "paused after an error from Alex Chen's model").to_json()["stalled"]
    assert not StateChanged("paused", "paused by the user").to_json()["stalled"]
    assert not StateChanged("paused", "").to_json()["stalled"]
