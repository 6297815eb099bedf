"""Lesson pages served from their shell (lessons.page_cache) are the pages rendered whole.

Every lesson of the real course is asked for with the cache (a miss, then a hit) and without it
(LESSON_PAGE_CACHE=0, every cache of the catalog, the rendering and the pages emptied first; a
front matter is still read from lessons.frontmatter's memo, whose result depends only on the
text, its first line and the language), for a first visit, a returning anonymous student, one
with progress, a logged-in student with progress and staff, as a full page and as the htmx
swap: the HTML must be the same byte for byte once the CSRF token (masked afresh on every
render) is set aside, and so must the cookies the response sets (names and attributes) and its
Vary header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exercises import lesson_part, progress
from exercises.catalog import for_lesson
from lessons import catalog, page_cache, pages, rendering

COURSE = Path(django_settings.BASE_DIR) / "content" / "lessons"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lesson-content"}
TOKEN = re.compile(
    r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"'
    r'|data-csrf-token="([A-Za-z0-9]+)"'
    r'|"X-CSRFToken": "([A-Za-z0-9]+)"'
)


@pytest.fixture(autouse=True)
def _empty_page_caches() -> Iterator[None]:
    page_cache.clear_cache()
    lesson_part.blocks.clear()
    yield
    page_cache.clear_cache()
    lesson_part.blocks.clear()


@pytest.fixture
def course(settings: Any) -> list[Any]:
    settings.LESSONS_DIR = COURSE
    settings.LESSON_PAGE_CACHE = True
    return list(catalog.get_catalog().lessons)


def tokens(html: str) -> set[str]:
    return {next(group for group in match.groups() if group) for match in TOKEN.finditer(html)}


def without_tokens(html: str) -> str:
    for token in tokens(html):
        html = html.replace(token, "CSRF")
    return html


def empty_every_cache() -> None:
    for clear in (
        catalog.clear_caches,
        rendering.clear_cache,
        pages.clear_cache,
        page_cache.clear_cache,
        lesson_part.blocks.clear,
    ):
        clear()


def headers(response: Any) -> tuple[Any, ...]:
    """What a browser or a cache keeps of the response, values that change on every response
    set aside (the cookies' values; `expires`, a date: max-age says the same and is kept)."""
    cookies = tuple(
        sorted(
            (
                name,
                tuple(sorted((k, v) for k, v in morsel.items() if v and k != "expires")),
                bool(morsel.value),
            )
            for name, morsel in response.cookies.items()
        )
    )
    kept = ("Vary", "Content-Type", "Cache-Control", "X-Frame-Options")
    return cookies, tuple((name, response.headers.get(name)) for name in kept)


def page(client: Client, url: str, htmx: bool) -> tuple[str, tuple[Any, ...]]:
    response = client.get(url, **(HTMX if htmx else {}))
    assert response.status_code == 200
    html = response.content.decode()
    # Every token on the page is the same one: the CSRF cookie's secret, masked.
    found = tokens(html)
    if found:
        assert len(found) == 1, found
        secret = client.cookies[django_settings.CSRF_COOKIE_NAME].value
        assert _unmask_cipher_token(found.pop()) == secret
    return html, headers(response)


def assert_same_with_and_without_cache(
    client: Client, lessons: list[Any], settings: Any, *, first_visits: bool = False
) -> int:
    """`first_visits`: every request without cookies, as a browser arriving for the first time."""
    compared = 0

    def get(url: str, htmx: bool) -> tuple[str, tuple[Any, ...]]:
        if first_visits:
            client.cookies = SimpleCookie()
        return page(client, url, htmx)

    for lesson in lessons:
        for htmx in (False, True):
            settings.LESSON_PAGE_CACHE = True
            miss, miss_headers = get(lesson.url, htmx)
            hit, hit_headers = get(lesson.url, htmx)
            settings.LESSON_PAGE_CACHE = False
            empty_every_cache()
            plain, plain_headers = get(lesson.url, htmx)
            where = f"{lesson.slug} (htmx={htmx})"
            assert without_tokens(miss) == without_tokens(plain), where
            assert without_tokens(hit) == without_tokens(plain), where
            assert miss_headers == hit_headers == plain_headers, where
            assert ('id="lesson-content"' in plain) and (("<html" in plain) is not htmx), where
            compared += 1
    settings.LESSON_PAGE_CACHE = True
    return compared


def give_progress(student: progress.Student, lessons: list[Any]) -> int:
    """Some exercises done, one failed twice, one solution revealed, across the course."""
    touched = 0
    for number, lesson in enumerate(lessons):
        entry = for_lesson(lesson)
        if entry is None or not entry.exercises:
            continue
        first, *rest = entry.exercises
        progress.record_check(student, entry.slug, first.id, failed_checks=[])
        if rest and number % 2:
            progress.record_check(student, entry.slug, rest[0].id, failed_checks=[0])
            progress.reveal_solution(student, entry.slug, rest[0].id)
        touched += 1
    return touched


# --- The same page, cached or not ----------------------------------------------------------------


def test_every_lesson_is_the_same_on_a_first_visit(
    client: Client, course: list[Any], settings: Any
) -> None:
    assert len(course) >= 10
    compared = assert_same_with_and_without_cache(client, course, settings, first_visits=True)
    assert compared == 2 * len(course)


def test_every_lesson_is_the_same_for_a_returning_anonymous_student(
    client: Client, course: list[Any], settings: Any
) -> None:
    client.get(course[0].url)
    assert "sessionid" in client.cookies
    assert assert_same_with_and_without_cache(client, course, settings) == 2 * len(course)


def anonymous_student(client: Client, course: list[Any], users: Any) -> progress.Student:
    client.get(course[0].url)
    return progress.Student(anonymous_key=client.session[progress.SESSION_KEY])


def log_in(client: Client, user: Any) -> None:
    """force_login skips the middleware, so the browser lacks the route cookie a real login's
    response sets (tutorial/route_cookie.py): one page gives it, before pages are compared."""
    client.force_login(user)
    client.get("/")


def logged_in_student(client: Client, course: list[Any], users: Any) -> progress.Student:
    user = users.objects.create_user("ana")
    log_in(client, user)
    return progress.Student(user_id=user.pk)


@pytest.mark.parametrize(
    ("student_of", "own_words"),
    [
        (anonymous_student, "Tu progreso se guarda en este navegador"),
        (logged_in_student, "Salir (ana)"),
    ],
    ids=["anonymous", "logged_in"],
)
def test_every_lesson_is_the_same_for_a_student_with_progress(
    client: Client,
    course: list[Any],
    settings: Any,
    django_user_model: Any,
    student_of: Any,
    own_words: str,
) -> None:
    student = student_of(client, course, django_user_model)
    assert give_progress(student, course) >= 5
    assert assert_same_with_and_without_cache(client, course, settings) == 2 * len(course)
    html = client.get(course[1].url).content.decode()
    assert 'data-done="true"' in html and own_words in html


def test_every_lesson_is_the_same_for_staff(
    client: Client, course: list[Any], settings: Any, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("profe", is_staff=True)
    log_in(client, user)
    # Staff pages are rendered whole (they show each lesson's problems): none is kept.
    assert assert_same_with_and_without_cache(client, course[:4], settings) == 8
    client.get(course[0].url)
    assert len(page_cache.shells) == 0


def test_each_logged_in_student_sees_their_own_name_escaped(
    client: Client, course: list[Any], django_user_model: Any, settings: Any
) -> None:
    lesson = course[1]
    seen = []
    for name in ["ana", "bea & <co>"]:
        client.force_login(django_user_model.objects.create_user(name))
        settings.LESSON_PAGE_CACHE = True
        cached = client.get(lesson.url).content.decode()
        settings.LESSON_PAGE_CACHE = False
        plain = client.get(lesson.url).content.decode()
        assert without_tokens(cached) == without_tokens(plain)
        seen.append(cached)
    assert "Salir (ana)" in seen[0] and "bea" not in seen[0]
    assert "Salir (bea &amp; &lt;co&gt;)" in seen[1] and "Salir (ana)" not in seen[1]


def test_a_name_that_looks_like_a_placeholder_is_shown_as_typed(
    client: Client, course: list[Any], django_user_model: Any
) -> None:
    # The shell is split at its placeholders once; what is put in is never searched again.
    name = f"x{page_cache.CSRF_PLACEHOLDER}{page_cache.part_placeholder('exercises')}"
    client.force_login(django_user_model.objects.create_user(name[:150]))
    html = client.get(course[1].url).content.decode()
    assert f"Salir ({name[:150]})" in html


def test_students_with_different_progress_each_see_their_own(
    client: Client, course: list[Any]
) -> None:
    lesson = course[1]
    first = for_lesson(lesson).exercises[0]
    cookies = {}
    for name in ("ana", "bea"):  # one client, two browsers' cookies
        client.cookies = SimpleCookie()
        client.get(lesson.url)
        cookies[name] = client.cookies
    client.cookies = cookies["ana"]
    key = client.session[progress.SESSION_KEY]
    progress.record_check(progress.Student(anonymous_key=key), lesson.slug, first.id, [])
    done = f'data-exercise="{first.id}" data-done="true"'
    assert done in client.get(lesson.url).content.decode()
    client.cookies = cookies["bea"]
    assert done not in client.get(lesson.url).content.decode()
    # One shell for both; one block per progress state (none done, the first one done).
    assert len(page_cache.shells) == 1
    assert len(lesson_part.blocks) == 2


def test_a_form_token_from_a_cached_page_is_accepted(client: Client, course: list[Any]) -> None:
    lesson = course[1]
    client.get(lesson.url)
    client.handler.enforce_csrf_checks = True
    html = client.get(lesson.url).content.decode()
    (token,) = tokens(html)
    url = reverse("exercises:reset", args=[lesson.slug])
    assert client.post(url, {}).status_code == 403
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code in (200, 302)


# --- Database queries ----------------------------------------------------------------------------


def test_a_returning_anonymous_student_costs_two_queries(
    client: Client, course: list[Any], settings: Any, django_assert_num_queries: Any
) -> None:
    lesson = course[1]
    client.get(lesson.url)  # the session, the progress key, the shell and the block rendered
    client.get(lesson.url, **HTMX)
    # The session, then the student's progress rows for this lesson.
    with django_assert_num_queries(2):
        assert client.get(lesson.url).status_code == 200
    with django_assert_num_queries(2):
        assert client.get(lesson.url, **HTMX).status_code == 200
    # Rendered whole, the exercises block reads the rows twice.
    settings.LESSON_PAGE_CACHE = False
    with django_assert_num_queries(3):
        assert client.get(lesson.url).status_code == 200


def test_a_logged_in_student_costs_three_queries(
    client: Client, course: list[Any], django_user_model: Any, django_assert_num_queries: Any
) -> None:
    user = django_user_model.objects.create_user("ana")
    client.force_login(user)
    lesson = course[1]
    first = for_lesson(lesson).exercises[0]
    progress.record_check(progress.Student(user_id=user.pk), lesson.slug, first.id, [])
    client.get(lesson.url)
    # The session, the user, the progress rows.
    with django_assert_num_queries(3):
        assert client.get(lesson.url).status_code == 200


def test_a_first_visit_writes_what_the_page_rendered_whole_writes(
    client: Client, course: list[Any], settings: Any
) -> None:
    lesson = course[1]
    counts = {}
    for cached in (True, False):
        settings.LESSON_PAGE_CACHE = cached  # (a settings change empties the caches)
        client.get(lesson.url)  # shell and block ready
        client.cookies = SimpleCookie()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(lesson.url)
        assert "sessionid" in response.cookies  # the new student's progress key
        sql = [query["sql"] for query in queries]
        counts[cached] = (len(sql), sorted(q.split()[0] for q in sql if "SELECT" not in q[:6]))
    # The same writes (the new session, in a savepoint); no progress read for a key made now.
    assert counts[True][1] == counts[False][1]
    assert "INSERT" in counts[True][1]
    assert counts[True][0] == counts[False][0] - 2


# --- A lesson without exercises ------------------------------------------------------------------


def test_an_anonymous_visit_to_a_lesson_without_exercises_makes_no_session(
    client: Client, write_lesson: Any, settings: Any
) -> None:
    write_lesson("01-uno.md", "## Hola\n\nSin ejercicios.\n", slug="uno")
    settings.LESSON_PAGE_CACHE = True
    client.get("/lecciones/uno/")  # the shell rendered
    for htmx in (False, True):
        seen = []
        for cached in (True, False):
            settings.LESSON_PAGE_CACHE = cached
            client.cookies = SimpleCookie()
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/lecciones/uno/", **(HTMX if htmx else {}))
            assert response.status_code == 200 and "Sin ejercicios." in response.content.decode()
            # No session, no query at all; the full page shows a CSRF token (its htmx header),
            # the swap none: it sets no cookie.
            assert len(queries) == 0
            assert "sessionid" not in response.cookies
            expected = set() if htmx else {django_settings.CSRF_COOKIE_NAME}
            assert set(response.cookies) == expected
            seen.append((without_tokens(response.content.decode()), headers(response)))
        assert seen[0] == seen[1]


# --- Edits on disk -------------------------------------------------------------------------------

EXERCISE = """\
ejercicios:
  - id: mira
    titulo: Mira tu contenedor
    enunciado: {statement}
    pista: Mira la carpeta.
    comprobaciones:
      - tipo: archivo
        ruta: ~/hola.txt
        ok: Bien.
        error: Todavía no.
---

"""


def exercise_lesson(statement: str, body: str, slug: str = "uno", **fm: Any) -> str:
    from .conftest import lesson_text

    head = lesson_text("", slug=slug, **fm).split("---\n")[1]
    return f"---\n{head}{EXERCISE.format(statement=statement)}{body}"


@pytest.mark.parametrize("debug", [True, False])
def test_an_edited_lesson_and_its_exercises_show_on_the_next_request(
    client: Client, write_lesson: Any, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug
    settings.LESSON_PAGE_CACHE = True
    settings.LESSONS_RECHECK_SECONDS = 3600  # only the shown lesson's own stat can see it
    path = write_lesson("01-uno.md", raw=exercise_lesson("Primer enunciado.", "Texto viejo.\n"))
    html = client.get("/lecciones/uno/").content.decode()
    assert "Primer enunciado." in html and "Texto viejo." in html
    again = client.get("/lecciones/uno/").content.decode()
    assert without_tokens(again) == without_tokens(html)

    path.write_text(exercise_lesson("Enunciado corregido.", "Texto nuevo.\n"), encoding="utf-8")
    html = client.get("/lecciones/uno/").content.decode()
    assert "Enunciado corregido." in html and "Primer enunciado." not in html
    assert "Texto nuevo." in html and "Texto viejo." not in html
    # With DEBUG the page is rendered whole; else the new version took the old one's place.
    assert len(page_cache.shells) == (0 if debug else 1)


def test_lessons_added_or_removed_show_at_once_and_other_edits_within_the_interval(
    client: Client, write_lesson: Any, settings: Any
) -> None:
    import time

    settings.LESSON_PAGE_CACHE = True
    settings.LESSONS_RECHECK_SECONDS = 0.2
    write_lesson("01-uno.md", slug="uno", orden=1, titulo="Uno")
    other = write_lesson("02-dos.md", slug="dos", orden=2, titulo="Título viejo")
    assert "Título viejo" in client.get("/lecciones/uno/").content.decode()

    # A new file changes the folder itself: seen on the next request.
    write_lesson("03-tres.md", slug="tres", orden=3, titulo="Recién llegada")
    assert "Recién llegada" in client.get("/lecciones/uno/").content.decode()

    # Another lesson edited in place (the folder unchanged): seen once the interval is over.
    other.write_text(other.read_text().replace("Título viejo", "Título nuevo"))
    time.sleep(0.25)
    html = client.get("/lecciones/uno/").content.decode()
    assert "Título nuevo" in html and "Título viejo" not in html

    other.unlink()
    assert client.get("/lecciones/dos/").status_code == 404
    assert "Título nuevo" not in client.get("/lecciones/uno/").content.decode()


def test_a_lesson_page_walks_the_folder_once_per_interval(
    client: Client, write_lesson: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.LESSONS_RECHECK_SECONDS = 3600
    write_lesson("01-uno.md", slug="uno")
    walks = []
    real = catalog._discover
    monkeypatch.setattr(catalog, "_discover", lambda root: walks.append(root) or real(root))
    for _ in range(5):
        assert client.get("/lecciones/uno/").status_code == 200
    assert len(walks) == 1
    settings.LESSONS_RECHECK_SECONDS = 0  # every request, as with DEBUG
    for _ in range(3):
        assert client.get("/lecciones/uno/").status_code == 200
    assert len(walks) == 4


def test_progress_marks_are_the_rows_the_orm_reads(
    client: Client, course: list[Any], django_user_model: Any
) -> None:
    lesson = course[3]
    entry = for_lesson(lesson)
    client.get(lesson.url)
    anonymous = progress.Student(anonymous_key=client.session[progress.SESSION_KEY])
    account = progress.Student(user_id=django_user_model.objects.create_user("ana").pk)
    for student in (anonymous, account):
        assert progress.marks(student, entry.slug) == ()
        first, second, *_ = entry.exercises
        progress.record_check(student, entry.slug, first.id, [])
        progress.record_check(student, entry.slug, second.id, [0])
        progress.reveal_solution(student, entry.slug, second.id)
        rows = progress.progress_for(student, entry.slug)
        expected = tuple(
            sorted(
                (eid, row.completed_at is not None, row.solution_revealed_at is not None)
                for eid, row in rows.items()
            )
        )
        assert progress.marks(student, entry.slug) == expected
        assert expected == tuple(sorted([(first.id, True, False), (second.id, False, True)]))
    # Each student's own rows only, and none for another lesson or nobody.
    assert progress.marks(anonymous, "otra-leccion") == ()
    assert progress.marks(None, entry.slug) == ()


def test_a_lesson_that_fails_to_render_says_so_and_keeps_no_shell(
    client: Client, write_lesson: Any, settings: Any, monkeypatch: Any
) -> None:
    write_lesson("01-uno.md", slug="uno")

    def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("roto")

    monkeypatch.setattr(rendering, "render_lesson", broken)
    assert catalog.get_catalog().get("uno") is not None  # available: only its rendering fails
    statuses = []
    for cached in (True, False):
        settings.LESSON_PAGE_CACHE = cached
        for _ in range(2):
            response = client.get("/lecciones/uno/")
            statuses.append(response.status_code)
            assert "Esta lección no está disponible" in response.content.decode()
        assert len(page_cache.shells) == 0
    assert statuses == [503] * 4
