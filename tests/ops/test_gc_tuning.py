"""The collector settings the server, worker and load test start with."""

from __future__ import annotations

import gc

import pytest

from thinktank.ops.gc_tuning import OLD_THRESHOLD, YOUNG_THRESHOLD, tune_gc


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_collections_run_less_often() -> None:
    survivor: list[list[str]] = [["made at start-up"]]
    assert gc.is_tracked(survivor)
    tune_gc()
    assert gc.get_freeze_count() > 0
    assert all(tracked is not survivor for tracked in gc.get_objects())  # no collection walks it
    young, _, old = gc.get_threshold()
    assert (young, old) == (YOUNG_THRESHOLD, OLD_THRESHOLD)
    assert young > 700  # CPython's default
