"""The benchmarks leave the process as they found it: `make bench` runs them all in one process,
so a wrapper left on the scripted model, or the server's GC settings, would skew every later one."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from _common import scripted_panel, watching_scripted_model
from thinktank.models.scripted import ScriptedModel


async def test_watching_the_scripted_model_puts_it_back_even_after_an_error() -> None:
    generate, complete = ScriptedModel.generate, ScriptedModel.complete
    engine = scripted_panel(messages=2)

    async def failing_half_way() -> None:
        with watching_scripted_model() as watch:
            await engine.take_turn()
            assert watch.prompts
            assert watch.seconds > 0
            raise RuntimeError("a benchmark failed half-way")

    with pytest.raises(RuntimeError):
        await failing_half_way()
    assert (ScriptedModel.generate, ScriptedModel.complete) == (generate, complete)


async def test_replayed_replies_stream_through_the_engine_unchanged() -> None:
    engine = scripted_panel(messages=1)
    with watching_scripted_model(replies=lambda chat: "A fixed reply of six words."):
        message = await engine.take_turn()
    assert message is not None
    assert message.text == "A fixed reply of six words."


def test_the_load_benchmark_gives_the_gc_settings_back() -> None:
    import load

    thresholds = gc.get_threshold()
    with load.served_gc():
        assert gc.get_threshold() != thresholds
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
