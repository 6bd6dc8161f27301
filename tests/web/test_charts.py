"""Server-drawn bar charts."""

from __future__ import annotations

import re
from decimal import Decimal

from thinktank.web.charts import BAR_WIDTH, bar_chart


def test_bars_scale_to_the_largest_and_carry_their_amounts() -> None:
    svg = str(bar_chart([("openai", Decimal("2.50")), ("anthropic", Decimal("1.25"))], title="Per provider"))
    widths = [int(w) for w in re.findall(r'class="bar"[^>]*width="(\d+)"', svg)]
    assert widths == [BAR_WIDTH, BAR_WIDTH // 2]
    assert "$2.50" in svg
    assert "$1.25" in svg
    assert 'aria-label="Per provider"' in svg


def test_labels_are_escaped_and_nothing_spent_says_so() -> None:
    svg = str(bar_chart([("<b>x</b>", Decimal("1"))], title="t"))
    assert "<b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "Nothing spent yet." in str(bar_chart([], title="t"))
