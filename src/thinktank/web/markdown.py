"""Replies as Markdown, rendered on the server and safe by construction: a model's raw HTML is
shown as text, links only to http(s)/mailto open in a new tab without the page's context, and
images are not fetched (a model's image link is a tracking pixel waiting to happen)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_SCHEMES)


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    token.attrSet("rel", "nofollow noopener noreferrer")
    token.attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable(["image"])
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    return md


_MARKDOWN = _build()


def render_markdown(text: Any) -> Markup:
    """HTML for a reply's Markdown; never raw HTML from the text itself."""
    return Markup(_MARKDOWN.render(str(text or "")))
