"""Lesson markdown to safe HTML and a table of contents, cached until the file changes.

Pipeline: Markdown (tables, admonitions, details, superfences with Pygments, toc) → nh3
(lessons.sanitize) with the lesson's relative links rewritten (lessons.links) → code block
buttons (lessons.codeblocks). The cache key holds the file's mtime and size, the catalog version
(links depend on the other lessons) and the language (button labels), so an instructor sees an
edit on the next reload, with no restart.
"""

from __future__ import annotations

import html as html_lib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import markdown
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from lessons import codeblocks, links, sanitize


class RenderableLesson(Protocol):
    """What rendering needs of a lesson (lessons.catalog.Lesson; no import back to the catalog,
    which itself renders lessons to check their anchors)."""

    # Read-only: the catalog's lessons are frozen dataclasses.
    @property
    def path(self) -> Path: ...

    @property
    def mtime_ns(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def body(self) -> str: ...

    def ref(self) -> links.LessonRef: ...


@dataclass(frozen=True)
class TocEntry:
    id: str
    title: str
    level: int
    children: tuple[TocEntry, ...] = ()


@dataclass(frozen=True)
class Rendered:
    html: SafeString
    toc: tuple[TocEntry, ...]


EXTENSIONS = [
    "tables",
    "sane_lists",
    "admonition",
    "toc",
    "pymdownx.details",
    "pymdownx.superfences",
    "pymdownx.tilde",
]


def _extension_configs() -> dict[str, dict[str, Any]]:
    return {
        # align="…" instead of a style attribute, which the sanitizer removes.
        "tables": {"use_align_attribute": True},
        "toc": {"toc_depth": "2-3"},
        "pymdownx.superfences": codeblocks.superfences_config(),
        "pymdownx.tilde": {"subscript": False},
    }


def _toc(tokens: list[dict[str, Any]]) -> tuple[TocEntry, ...]:
    return tuple(
        TocEntry(
            id=links.prefix_fragment(token["id"]),
            title=html_lib.unescape(token["name"]),
            level=token["level"],
            children=_toc(token.get("children", [])),
        )
        for token in tokens
    )


def render_markdown(
    body: str,
    *,
    rewrite_relative_url: Callable[[str], str | None] | None = None,
    where: str = "",
) -> Rendered:
    """Render markdown to sanitized HTML (no cache; see render_lesson). `where` names the render
    among the others of its page (codeblocks.add_actions: the code blocks' ids)."""
    nonce = secrets.token_hex(8)
    md = markdown.Markdown(extensions=EXTENSIONS, extension_configs=_extension_configs())
    setattr(md, codeblocks.NONCE_ATTRIBUTE, nonce)
    raw_html = md.convert(codeblocks.quote_file_options(body))
    toc = _toc(getattr(md, "toc_tokens", []))
    clean = sanitize.clean(raw_html, nonce=nonce, rewrite_relative_url=rewrite_relative_url)
    files = getattr(md, codeblocks.FILES_ATTRIBUTE, [])
    html = codeblocks.add_actions(clean, nonce, files, where)
    return Rendered(html=mark_safe(html), toc=toc)  # noqa: S308


_cache: dict[str, tuple[tuple[Any, ...], Rendered]] = {}
_cache_lock = threading.Lock()


def render_lesson(
    lesson: RenderableLesson, index: links.LinkIndex, catalog_version: str
) -> Rendered:
    """The lesson's HTML, from the cache while neither it nor the catalog changed."""
    key = (lesson.mtime_ns, lesson.size, catalog_version, get_language())
    cache_id = str(lesson.path)
    with _cache_lock:
        hit = _cache.get(cache_id)
    if hit is not None and hit[0] == key:
        return hit[1]

    ref = lesson.ref()

    def rewrite(url: str) -> str | None:
        return links.resolve(url, ref, index).href

    rendered = render_markdown(lesson.body, rewrite_relative_url=rewrite)
    with _cache_lock:
        _cache[cache_id] = (key, rendered)
    return rendered


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
