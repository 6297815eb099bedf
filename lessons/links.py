"""What a link or image URL in a lesson points to, and where the page should really point.

Instructors may write links the way that works in their editor and on GitHub — `02-imagenes.md`,
`../03-capas/index.md#capas`, `diagrama.png` next to a folder lesson's index.md — or the site's
own URLs (`/lecciones/imagenes-y-capas/`). `resolve()` turns each into the site URL and says
whether it is broken. check_lessons reports the problems; the renderer uses the URLs.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from lessons import assets

# Every id in a lesson's HTML gets this prefix (lessons.sanitize), so a heading called
# "Contenido" can never collide with the page's own ids; fragments follow.
ID_PREFIX = "sec-"

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_LESSON_URL = re.compile(r"^/lecciones/(?P<slug>[^/]+)/?$")
_ASSET_URL = re.compile(r"^/lecciones/(?P<slug>[^/]+)/recursos/(?P<path>.+)$")


@dataclass(frozen=True)
class LessonRef:
    slug: str
    path: Path  # the markdown file
    folder: Path | None  # the lesson's folder, for folder lessons


@dataclass
class LinkIndex:
    """The lessons a link may point to, by slug and by source path."""

    refs: Iterable[LessonRef] = ()
    by_slug: dict[str, LessonRef] = field(init=False, default_factory=dict)
    by_source: dict[Path, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for ref in self.refs:
            self.by_slug.setdefault(ref.slug, ref)
            self.by_source.setdefault(ref.path.resolve(), ref.slug)
            if ref.folder is not None:
                self.by_source.setdefault(ref.folder.resolve(), ref.slug)


@dataclass(frozen=True)
class Target:
    href: str | None  # the URL the page uses; None: drop it
    problem: str | None = None  # Spanish, for check_lessons; None when the link works
    external: bool = False
    # The lesson a working link lands on and its `#fragment`, so check_lessons can check anchors.
    lesson_slug: str | None = None
    fragment: str = ""


def lesson_url(slug: str) -> str | None:
    """The lesson's page; None for a slug no page can have (a broken lesson's stand-in)."""
    try:
        return reverse("lessons:detail", args=[slug])
    except NoReverseMatch:
        return None


def asset_url(slug: str, relative: str) -> str | None:
    """A file of the lesson's folder; None when no URL can name it (see lesson_url)."""
    try:
        return reverse("lessons:asset", args=[slug, relative])
    except NoReverseMatch:
        return None


# The base that relative links of a lesson without a usable slug are read against: any valid
# slug gives the same answer for `../otra/` and `/lecciones/otra/`.
_ANY_LESSON = "/lecciones/leccion/"


def prefix_fragment(fragment: str) -> str:
    if not fragment or fragment.startswith(ID_PREFIX):
        return fragment
    return ID_PREFIX + fragment


def is_unsafe(url: str) -> bool:
    """True for anything a browser might read as a scheme we did not vet (`jav\\tascript:`)."""
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in url):
        return True
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    return ":" in head and not _SCHEME.match(url)


def _with_fragment(href: str, fragment: str) -> str:
    return f"{href}#{prefix_fragment(fragment)}" if fragment else href


def _asset_target(ref: LessonRef, relative: str, fragment: str, is_image: bool) -> Target:
    url = asset_url(ref.slug, relative)
    if url is None:
        # A lesson that cannot be served has no files to link to (its own problems say why).
        return Target(None)
    href = _with_fragment(url, fragment)
    if assets.locate(ref.folder, relative) is not None:
        return Target(href)
    if ref.folder is None:
        problem = _(
            "«%(path)s»: esta lección es un solo archivo y no tiene recursos; conviértela en una "
            "carpeta con index.md y pon ahí el archivo"
        ) % {"path": relative}
    elif posixpath.splitext(relative)[1].lower() not in assets.CONTENT_TYPES:
        problem = _("«%(path)s»: solo se sirven imágenes (%(types)s)") % {
            "path": relative,
            "types": ", ".join(sorted(assets.CONTENT_TYPES)),
        }
    elif is_image:
        problem = _("imagen no encontrada: «%(path)s»") % {"path": relative}
    else:
        problem = _("archivo no encontrado: «%(path)s»") % {"path": relative}
    return Target(href, problem)


def _lesson_target(slug: str, fragment: str) -> Target:
    url = lesson_url(slug)
    if url is None:
        # A lesson without a usable slug: unavailable, and its own problems say why.
        return Target(None)
    return Target(_with_fragment(url, fragment), lesson_slug=slug, fragment=fragment)


def resolve(url: str, lesson: LessonRef, index: LinkIndex, *, is_image: bool = False) -> Target:
    raw = url.strip()
    if not raw:
        return Target(raw)
    if is_unsafe(raw):
        return Target(None)
    if _SCHEME.match(raw) or raw.startswith("//"):
        # The sanitizer decides which schemes survive (http, https, mailto).
        return Target(raw, external=True)
    parts = urlsplit(raw)
    fragment = parts.fragment
    if not parts.path:  # "#section" or "?x"
        return Target(
            _with_fragment("", fragment) or raw, lesson_slug=lesson.slug, fragment=fragment
        )

    path = unquote(parts.path)
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        # `%0A` and its kind: no file has such a name, and no URL of the site may carry it.
        return Target(
            None, _("enlace no válido: «%(url)s» lleva caracteres de control") % {"url": raw}
        )
    if not path.startswith("/") and path.lower().endswith(".md"):
        target_file = (lesson.path.parent / path).resolve()
        slug = index.by_source.get(target_file)
        if slug is None and target_file.name.lower() == "index.md":
            slug = index.by_source.get(target_file.parent)
        if slug is None:
            return Target(
                raw,
                _("enlace roto: «%(path)s» no es ninguna lección") % {"path": path},
            )
        return _lesson_target(slug, fragment)

    if not path.startswith(("/", "../")):
        # Relative to the lesson: a file in its folder (a single-file lesson has none).
        relative = posixpath.normpath(path)
        if not relative.startswith("../"):
            return _asset_target(lesson, relative, fragment, is_image)

    absolute = urljoin(lesson_url(lesson.slug) or _ANY_LESSON, parts.path)
    if match := _LESSON_URL.match(absolute):
        slug = unquote(match["slug"])
        if slug not in index.by_slug:
            return Target(
                absolute,
                _("enlace roto: no hay ninguna lección con el slug «%(slug)s»") % {"slug": slug},
            )
        return _lesson_target(slug, fragment)
    if match := _ASSET_URL.match(absolute):
        ref = index.by_slug.get(unquote(match["slug"]))
        if ref is None:
            return Target(
                absolute,
                _("enlace roto: no hay ninguna lección con el slug «%(slug)s»")
                % {"slug": unquote(match["slug"])},
            )
        return _asset_target(ref, unquote(match["path"]), fragment, is_image)
    if absolute.startswith("/lecciones/"):
        what = _("imagen no encontrada") if is_image else _("enlace roto")
        return Target(absolute, f"{what}: «{raw}» → {absolute}")
    query = f"?{parts.query}" if parts.query else ""
    return Target(_with_fragment(quote(absolute, safe="/%:@!$&'()*+,;=-._~") + query, fragment))
