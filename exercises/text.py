"""Markdown in exercise texts (enunciado, pista, solucion) to safe HTML."""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "kbd", "span",
}


def markdown_html(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=["fenced_code"], output_format="html")
    cleaned = nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href"}, "code": {"class"}})
    return mark_safe(cleaned)  # noqa: S308  (sanitised by nh3 just above)
