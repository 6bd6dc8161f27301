from __future__ import annotations

import pytest

from thinktank.engine.speaker_guard import SpeakerGuard


def run(chunks: list[str]) -> tuple[str, str, bool]:
    guard = SpeakerGuard(own_name="Alex Chen", other_names=["Michael Kim", "Sarah Johnson"])
    shown = "".join(guard.feed(c) for c in chunks) + guard.finish()
    return shown, guard.text, guard.cut


def test_a_reply_is_cut_where_it_starts_speaking_for_someone_else() -> None:
    shown, text, cut = run(["I think ", "we should ship.\n", "Michael", " Kim: No way, we wait."])
    assert (shown, text, cut) == ("I think we should ship.", "I think we should ship.", True)


@pytest.mark.parametrize(
    "label", ["Sarah Johnson (UX/UI Designer):", "**Sarah Johnson**:", "You:", "[Michael Kim]:"]
)
def test_label_variants_are_recognised(label: str) -> None:
    shown, _, cut = run([f"Good point.\n\n{label} I disagree."])
    assert cut
    assert shown == "Good point."


def test_the_own_label_at_the_start_is_dropped() -> None:
    assert run(["Alex Chen: ", "Let's measure first."])[0] == "Let's measure first."


def test_ordinary_text_with_colons_and_newlines_passes_untouched() -> None:
    text = "Ratio 3:1 is fine.\nNext step: ship it.\nMichael Kim's idea works."
    assert run([text[:10], text[10:30], text[30:]]) == (text, text, False)


def test_text_streams_without_waiting_for_the_end() -> None:
    guard = SpeakerGuard(own_name="Alex Chen", other_names=["Michael Kim"])
    first = guard.feed("A long opening sentence that is clearly not a speaker label at all, ")
    assert first, "text is released before the stream ends"
