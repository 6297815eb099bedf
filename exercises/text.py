"""Markdown in exercise texts (enunciado, pista, solucion) to safe HTML, with the lessons' own
renderer: the same sanitising, and ```bash ejecutable blocks get their "Ejecutar" button."""

from __future__ import annotations

from functools import lru_cache

from django.utils.safestring import SafeString
from django.utils.translation import get_language

from lessons.rendering import render_markdown


@lru_cache(maxsize=1024)
def _render(text: str, language: str | None, where: str) -> SafeString:
    return render_markdown(text, where=where).html


def markdown_html(text: str, where: str) -> SafeString:
    """`where` (the exercise and the part) keeps the code blocks' ids apart from those of any
    other render on the page, even of the same text. The language is part of the key: button
    labels are translated."""
    return _render(text, get_language(), where)
