"""Bar charts as inline SVG, rendered on the server: no charting script, readable in both themes."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from thinktank.web.render import usd

# In viewBox units. The figure is drawn about as wide as its viewBox (a third of a 1280 px page, or a
# phone's width), so the 17-unit text reads at 13-15 px; a wider viewBox shrank it to ~7 px.
ROW_HEIGHT = 32
LABEL_WIDTH = 150
BAR_WIDTH = 190
VALUE_WIDTH = 80
LABEL_CHARS = 15


def bar_chart(rows: Sequence[tuple[str, Decimal]], *, title: str) -> Markup:
    """Horizontal bars, one per (label, amount), scaled to the largest; the title names the figure
    for screen readers and every bar carries its exact amount as text."""
    if not rows:
        return Markup('<p class="empty">Nothing spent yet.</p>')
    largest = max(amount for _, amount in rows) or Decimal(1)
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW_HEIGHT * len(rows)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, amount) in enumerate(rows):
        y = i * ROW_HEIGHT
        bar = max(int(BAR_WIDTH * float(amount / largest)), 1 if amount > 0 else 0)
        amount_text = escape(usd(amount, 2))
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        parts.append(
            f'<g><text class="label" x="{LABEL_WIDTH - 8}" y="{y + 22}" text-anchor="end">'
            f"{escape(short)}</text>"
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 6}" width="{bar}" '
            f'height="{ROW_HEIGHT - 12}" rx="3">'
            f"<title>{escape(label)}: {amount_text}</title></rect>"
            f'<text class="value" x="{LABEL_WIDTH + bar + 6}" y="{y + 22}">{amount_text}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
