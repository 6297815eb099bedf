"""Lesson pages: the course index, a lesson, a lesson's images, the 404 page.

Views only coordinate: lessons.catalog finds and checks lessons, lessons.rendering turns them into
HTML, lessons.assets decides which files may be served.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from lessons import assets, catalog, glossary, page_cache, pages

SMALL_ASSET_BYTES = 2 * 1024 * 1024


def _is_staff(request: HttpRequest) -> bool:
    """Whether the page shows a lesson's problems: to staff, and to the author working locally
    (DEBUG), who otherwise would only read «tiene un problema» without being logged in."""
    user = getattr(request, "user", None)
    return bool(settings.DEBUG or (user is not None and user.is_staff))


def _wants_partial(request: HttpRequest) -> bool:
    """An htmx navigation that swaps #lesson-content (not a history restore, which needs it all)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx and not htmx.history_restore_request and htmx.target == "lesson-content")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    course = catalog.get_catalog()
    context = {
        "entries": pages.index_entries(course),
        "course_problems": course.problems,
        "staff": _is_staff(request),
        "debug_mode": settings.DEBUG,
    }
    return render(request, "lessons/index.html", context)


@require_GET
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    course = catalog.get_catalog_for_page(slug)
    lesson = course.find(slug)
    if lesson is None:
        raise Http404("no such lesson")
    staff = _is_staff(request)
    partial = _wants_partial(request)
    page: pages.LessonPage | None = None
    if page_cache.enabled() and not staff and lesson.available:
        # Everything but the visitor's own parts comes from a shell rendered once.
        # The URL prefix too: links and static URLs in the shell carry it (a server mounted
        # under a path, or the start-up warm-up, whose thread has the default one).
        slot = (str(lesson.path), get_language(), partial, get_script_prefix())
        version = (lesson.mtime_ns, lesson.size, course.version, glossary.get_glossary().version)
        if not page_cache.cached(request, slot, version):
            page = pages.lesson_page(course, lesson)
        if page is None or page.available:
            return _from_shell(request, course, lesson, partial, slot, version)
    if page is None:
        page = pages.lesson_page(course, lesson)
    if not page.available:
        # The lesson exists but cannot be shown: say so (staff see why), never a 500.
        context = _page_context(page, lesson, staff)
        response = render(request, "lessons/unavailable.html", context, status=503)
    else:
        context = {**_page_context(page, lesson, staff), **_shown_context(page, partial)}
        response = render(request, _lesson_template(partial), context)
    return _vary(response)


def _page_context(page: pages.LessonPage, lesson: catalog.Lesson, staff: bool) -> dict[str, object]:
    return {"page": page, "lesson": lesson, "staff": staff, "debug_mode": settings.DEBUG}


def _shown_context(page: pages.LessonPage, partial: bool) -> dict[str, object]:
    """What the lesson template needs besides _page_context to show the lesson (the swap
    fragment titles the tab itself)."""
    return {"fragments": pages.fragments(page), **({"partial_title": True} if partial else {})}


def _lesson_template(partial: bool) -> str:
    return "lessons/lesson.html#content" if partial else "lessons/lesson.html"


def _vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers a full page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _from_shell(
    request: HttpRequest,
    course: catalog.Catalog,
    lesson: catalog.Lesson,
    partial: bool,
    slot: tuple[object, ...],
    version: tuple[object, ...],
) -> HttpResponse:
    """The page from its shell (lessons.page_cache): the same HTML and headers as rendered
    whole."""

    def render_shell(extra: dict[str, object]) -> str:
        # Only on a miss; lesson_page renders the markdown once and then reads its cache.
        page = pages.lesson_page(course, lesson)
        context = {
            **_page_context(page, lesson, staff=False),
            **_shown_context(page, partial),
            **extra,
        }
        return render_to_string(_lesson_template(partial), context)

    html = page_cache.lesson_page(request, lesson, slot, version, render_shell)
    return _vary(HttpResponse(html))


@require_GET
def lesson_asset(request: HttpRequest, slug: str, asset_path: str) -> HttpResponse | FileResponse:
    lesson = catalog.get_catalog().get(slug)
    found = assets.locate(lesson.folder if lesson else None, asset_path)
    if found is None:
        raise Http404("no such asset")
    path, content_type = found
    response: HttpResponse | FileResponse
    if path.stat().st_size <= SMALL_ASSET_BYTES:
        # Lesson images are small: bytes in memory avoid streaming a file through ASGI.
        response = HttpResponse(path.read_bytes(), content_type=content_type)
    else:
        response = FileResponse(path.open("rb"), content_type=content_type)
    # An SVG opened on its own must not run scripts or load anything.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "public, max-age=300"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


@require_GET
def glossary_page(request: HttpRequest) -> HttpResponse:
    course = catalog.get_catalog()
    terms = glossary.get_glossary().terms
    lessons = {lesson.slug: lesson for lesson in course.lessons if lesson.slug}
    rows = [(term, lessons.get(term.lesson or "")) for term in terms]
    return render(request, "lessons/glossary.html", {"rows": rows})
