"""Make a lesson's rendered HTML safe, whatever the lesson file contains.

Markdown passes raw HTML through, so the rendered page goes through nh3 (ammonia) with an
allowlist: no script or style, no event or style attributes, only http/https/mailto URLs, only
the CSS classes the renderer itself produces. Every id gets a prefix (links.ID_PREFIX) so lesson
headings never collide with the page's own ids. After sanitizing, external links get
target=_blank and rel="noopener noreferrer nofollow" — added here, never taken from the lesson.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import nh3
from django.utils.html import escape
from django.utils.translation import gettext as _
from pygments.token import STANDARD_TYPES

from lessons.links import ID_PREFIX

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "mark", "ol", "p", "pre", "s", "samp", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "var",
}  # fmt: skip
# Removed together with everything inside them (the rest lose the tag and keep their text).
CLEAN_CONTENT_TAGS = {
    "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
    "textarea", "select", "title", "xmp", "noembed", "noframes", "plaintext", "frameset",
    "applet", "head", "canvas", "video", "audio",
}  # fmt: skip
_HEADING_ATTRIBUTES = {"id"}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "details": {"open"},
    # The renderer's marker for a fenced code block (lessons.codeblocks); only a marker carrying
    # this render's nonce survives, so raw HTML in a lesson cannot forge a runnable block.
    "div": {"data-muelle-code"},
    **{f"h{level}": _HEADING_ATTRIBUTES for level in range(1, 7)},
}
URL_SCHEMES = {"http", "https", "mailto"}

# Admonition types (`!!! nota`), in English (Python-Markdown's) and Spanish.
ADMONITION_TYPES = {
    "note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error",
    "info", "example", "question", "success", "failure", "bug", "quote", "abstract",
    "nota", "consejo", "importante", "aviso", "cuidado", "peligro", "ejemplo", "pregunta",
}  # fmt: skip
PYGMENTS_CLASSES = {name for name in STANDARD_TYPES.values() if name}
ALLOWED_CLASSES = {
    "div": {"admonition", *ADMONITION_TYPES},
    "p": {"admonition-title"},
    "details": ADMONITION_TYPES,
    "span": PYGMENTS_CLASSES,
}

MARKER_ATTRIBUTE = "data-muelle-code"

_A_ELEMENT = re.compile(r'<a((?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*)\s*>(.*?)</a>', re.DOTALL)
_HREF = re.compile(r'\shref="([^"]*)"')
_EXTERNAL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)


def _attribute_filter(nonce: str) -> Callable[[str, str, str], str | None]:
    # `:f<n>`: the block fills the render's n-th `archivo=` file (lessons.codeblocks).
    marker = re.compile(rf"{re.escape(nonce)}:(?:run|copy)(?::f[0-9]{{1,5}})?")

    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute == MARKER_ATTRIBUTE:
            return value if marker.fullmatch(value) else None
        return value

    return keep


def _mark_external_links(html: str) -> str:
    """Open external links in a new tab, safely, and tell screen reader users so."""
    note = escape(_("(se abre en una pestaña nueva)"))

    def mark(match: re.Match[str]) -> str:
        attributes, content = match.group(1), match.group(2)
        href = _HREF.search(attributes)
        if href is None or not _EXTERNAL.match(href.group(1)):
            return match.group(0)
        return (
            f'<a{attributes} target="_blank" rel="noopener noreferrer nofollow">'
            f'{content}<span class="visually-hidden"> {note}</span></a>'
        )

    # Sanitized HTML has double-quoted attributes and no nested links, so the first </a> after
    # an opening tag closes it.
    return _A_ELEMENT.sub(mark, html)


def clean(
    html: str,
    *,
    nonce: str = "",
    rewrite_relative_url: Callable[[str], str | None] | None = None,
) -> str:
    """Sanitize rendered lesson HTML.

    `rewrite_relative_url` receives every URL without a scheme (`#x`, `/x`, `foto.png`) and
    returns the URL to use, or None to drop it. Without it, fragments only get the id prefix.
    """

    def relative(url: str) -> str | None:
        if rewrite_relative_url is not None:
            return rewrite_relative_url(url)
        if url.startswith("#") and not url.startswith("#" + ID_PREFIX):
            return "#" + ID_PREFIX + url[1:]
        return url

    cleaner = nh3.Cleaner(
        tags=TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter(nonce or "-"),
        strip_comments=True,
        link_rel=None,
        url_schemes=URL_SCHEMES,
        allowed_classes=ALLOWED_CLASSES,
        set_tag_attribute_values={"img": {"loading": "lazy"}},
        url_relative=relative,
        id_prefix=ID_PREFIX,
    )
    return _mark_external_links(cleaner.clean(html))
