from __future__ import annotations

import pytest

from thinktank.engine.speaker_guard import SpeakerGuard


def run(chunks: list[str]) -> tuple[str, str, bool]:
    guard = SpeakerGuard(
        own_name="Alex Chen", others=[("Michael Kim", "Product Manager"), ("Sarah Johnson", "UX/UI Designer")]
    )
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
    guard = SpeakerGuard(own_name="Alex Chen", others=[("Michael Kim", "Product Manager")])
    first = guard.feed("A long opening sentence that is clearly not a speaker label at all, ")
    assert first, "text is released before the stream ends"


def guarded(chunks: list[str]) -> tuple[str, bool]:
    guard = SpeakerGuard(
        own_name="Alex Chen",
        own_role="Senior Software Engineer",
        others=[("Michael Kim", "Product Manager"), ("Sarah Johnson", "UX/UI Designer")],
    )
    shown = "".join(guard.feed(c) for c in chunks) + guard.finish()
    assert shown.rstrip() == guard.text, "what was shown live is what is kept"
    return guard.text, guard.cut


@pytest.mark.parametrize(
    "label",
    [
        "Michael Kim (Product Manager)",
        "**Michael Kim (Product Manager)**",
        "Michael Kim",
        "Michael Kim — Product Manager",
        "Sarah Johnson, UX/UI Designer",
        "[Sarah Johnson]",
    ],
)
def test_a_label_on_its_own_line_without_a_colon_is_cut(label: str) -> None:
    assert guarded(["Good point.\n\n", label, "\nNo, we wait."]) == ("Good point.", True)
    assert guarded([label + "\n", "No, we wait."]) == ("", True), "a reply that opens as someone else"


def test_a_label_at_the_very_end_of_the_reply_is_cut() -> None:
    assert guarded(["Good point.\nMichael Kim (Product Manager)"]) == ("Good point.", True)


@pytest.mark.parametrize(
    "opening",
    [
        "You are a Product Manager at a fast-growing startup. You reason from customer value.",
        "You are Alex Chen, a senior software engineer who has shipped large systems.",
        "How to reply:\nSpeak only as Alex Chen.",
        "## How to reply\nSpeak only as Alex Chen.",
        "Speak only as Alex Chen (Senior Software Engineer). Reply in 2 to 5 sentences.",
    ],
)
def test_a_reply_that_restates_its_instructions_is_cut(opening: str) -> None:
    assert guarded([opening[:7], opening[7:]]) == ("", True)


def test_restated_instructions_after_real_text_are_cut_there() -> None:
    assert guarded(["We should measure first.\n\nHow to reply: ", "in 2 to 5 sentences."]) == (
        "We should measure first.",
        True,
    )


def test_the_own_label_without_a_colon_is_dropped() -> None:
    assert guarded(["Alex Chen (Senior Software Engineer)\n", "Let's measure first."]) == (
        "Let's measure first.",
        False,
    )


@pytest.mark.parametrize(
    "text",
    [
        "Michael Kim, I disagree with you.\nWe should wait.",
        "You are right, Michael Kim: we should wait.",
        "Michael Kim (our PM) raised this earlier.\nI agree with him.",
        "Sarah Johnson's sketches help.\nHow we reply to churn matters more.",
        "You are all missing the cost of delay.",
    ],
)
def test_names_and_phrases_inside_ordinary_text_pass(text: str) -> None:
    assert guarded([text[:9], text[9:]]) == (text, False)
