"""The lesson page's cached parts (lessons.page_cache) change nothing a student sees.

Every lesson of the real course is rendered with the cache (a miss, then a hit) and without it
(LESSON_PAGE_CACHE=0, every cache emptied first), for an anonymous student, an anonymous student
with progress, a logged-in student with progress and a staff member, as a full page and as the
htmx swap: the HTML must be the same byte for byte, once the CSRF token (random on every
render) is set aside. The token the cache puts back must be the page's own, and accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from exercises import progress
from exercises.catalog import for_lesson
from lessons import catalog, page_cache, pages, rendering

from .conftest import WriteLesson, lesson_text

COURSE = Path(django_settings.BASE_DIR) / "content" / "lessons"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lesson-content"}
TOKEN = re.compile(
    r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"'
    r'|data-csrf-token="([A-Za-z0-9]+)"'
    r'|"X-CSRFToken": "([A-Za-z0-9]+)"'
)


@pytest.fixture(autouse=True)
def _empty_page_cache() -> Iterator[None]:
    page_cache.clear_cache()
    yield
    page_cache.clear_cache()


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
    ):
        clear()


def page(client: Client, url: str, htmx: bool) -> tuple[str, list[str]]:
    response = client.get(url, **(HTMX if htmx else {}))
    assert response.status_code == 200
    html = response.content.decode()
    # Every token on the page is the same one, and it is the CSRF cookie's secret, masked.
    found = tokens(html)
    assert len(found) == 1, found
    secret = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert _unmask_cipher_token(found.pop()) == secret
    return html, sorted(response.cookies)


def assert_same_with_and_without_cache(
    client: Client, lessons: list[Any], settings: Any, *, first_visits: bool = False
) -> int:
    """`first_visits`: every request without cookies, as a browser arriving for the first time."""
    compared = 0

    def get(url: str, htmx: bool) -> tuple[str, list[str]]:
        if first_visits:
            client.cookies.clear()
        return page(client, url, htmx)

    for lesson in lessons:
        for htmx in (False, True):
            settings.LESSON_PAGE_CACHE = True
            miss, miss_cookies = get(lesson.url, htmx)
            hit, hit_cookies = get(lesson.url, htmx)
            settings.LESSON_PAGE_CACHE = False
            empty_every_cache()
            plain, plain_cookies = get(lesson.url, htmx)
            where = f"{lesson.slug} (htmx={htmx})"
            assert without_tokens(miss) == without_tokens(plain), where
            assert without_tokens(hit) == without_tokens(plain), where
            assert miss_cookies == hit_cookies == plain_cookies, where
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
            progress.record_check(student, entry.slug, rest[0].id, failed_checks=[0])
            progress.reveal_solution(student, entry.slug, rest[0].id)
        touched += 1
    return touched


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
    assert assert_same_with_and_without_cache(client, course, settings) == 2 * len(course)


def test_every_lesson_is_the_same_for_an_anonymous_student_with_progress(
    client: Client, course: list[Any], settings: Any
) -> None:
    client.get(course[0].url)
    student = progress.Student(anonymous_key=client.session[progress.SESSION_KEY])
    assert give_progress(student, course) >= 5
    assert assert_same_with_and_without_cache(client, course, settings) == 2 * len(course)
    html = client.get(course[1].url).content.decode()
    assert 'data-done="true"' in html


def test_every_lesson_is_the_same_for_a_logged_in_student_with_progress(
    client: Client, course: list[Any], settings: Any, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("ana")
    client.force_login(user)
    assert give_progress(progress.Student(user_id=user.pk), course) >= 5
    assert assert_same_with_and_without_cache(client, course, settings) == 2 * len(course)
    html = client.get(course[1].url).content.decode()
    assert "Salir (ana)" in html and 'data-done="true"' in html


def test_every_lesson_is_the_same_for_staff(
    client: Client, course: list[Any], settings: Any, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("profe", is_staff=True)
    client.force_login(user)
    # Staff see each lesson's problems above it: the part the cache leaves out, a few suffice.
    assert assert_same_with_and_without_cache(client, course[:4], settings) == 8


def test_students_with_different_progress_each_see_their_own(
    client: Client, course: list[Any]
) -> None:
    lesson = next(item for item in course if for_lesson(item) and for_lesson(item).exercises)
    first = for_lesson(lesson).exercises[0]
    cookies = {}
    for name in ("ana", "bea"):  # one client (one handler), two browsers' cookies
        client.cookies = SimpleCookie()
        client.get(lesson.url)
        cookies[name] = client.cookies
    client.cookies = cookies["ana"]
    progress.record_check(
        progress.Student(anonymous_key=client.session[progress.SESSION_KEY]),
        lesson.slug,
        first.id,
        failed_checks=[],
    )
    done = f'data-exercise="{first.id}" data-done="true"'
    assert done in client.get(lesson.url).content.decode()
    client.cookies = cookies["bea"]
    assert done not in client.get(lesson.url).content.decode()
    # One block per progress state, each with its student's own token put back in.
    assert len(page_cache.exercise_blocks) == 2


def test_a_form_token_from_a_cached_page_is_accepted(client: Client, course: list[Any]) -> None:
    from django.urls import reverse

    lesson = next(item for item in course if for_lesson(item) and for_lesson(item).exercises)
    client.get(lesson.url)
    client.handler.enforce_csrf_checks = True
    html = client.get(lesson.url).content.decode()
    (token,) = tokens(html)
    url = reverse("exercises:reset", args=[lesson.slug])
    assert client.post(url, {}).status_code == 403
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code in (200, 302)


# --- Database queries ----------------------------------------------------------------------------


def test_a_returning_anonymous_student_costs_two_queries(
    client: Client, course: list[Any], django_assert_num_queries: Any
) -> None:
    lesson = course[1]
    assert for_lesson(lesson).exercises
    client.get(lesson.url)  # the session, the progress key, the block rendered once
    client.get(lesson.url, **HTMX)
    # The session, then the student's progress rows for this lesson.
    with django_assert_num_queries(2):
        assert client.get(lesson.url).status_code == 200
    with django_assert_num_queries(2):
        assert client.get(lesson.url, **HTMX).status_code == 200


def test_a_logged_in_student_costs_three_queries(
    client: Client, course: list[Any], django_user_model: Any, django_assert_num_queries: Any
) -> None:
    user = django_user_model.objects.create_user("ana")
    client.force_login(user)
    lesson = course[1]
    progress.record_check(
        progress.Student(user_id=user.pk), lesson.slug, for_lesson(lesson).exercises[0].id, []
    )
    client.get(lesson.url)
    # The session, the user, the progress rows.
    with django_assert_num_queries(3):
        assert client.get(lesson.url).status_code == 200


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


def exercise_lesson(statement: str, body: str) -> str:
    head = lesson_text("", slug="uno").split("---\n")[1]
    return f"---\n{head}{EXERCISE.format(statement=statement)}{body}"


@pytest.mark.parametrize("debug", [True, False])
def test_an_edited_lesson_and_its_exercises_show_on_the_next_request(
    client: Client, write_lesson: WriteLesson, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug
    settings.LESSON_PAGE_CACHE = True
    path = write_lesson("01-uno.md", raw=exercise_lesson("Primer enunciado.", "Texto viejo.\n"))
    html = client.get("/lecciones/uno/").content.decode()
    assert "Primer enunciado." in html and "Texto viejo." in html
    again = client.get("/lecciones/uno/").content.decode()
    assert without_tokens(again) == without_tokens(html)

    path.write_text(exercise_lesson("Enunciado corregido.", "Texto nuevo.\n"), encoding="utf-8")
    html = client.get("/lecciones/uno/").content.decode()
    assert "Enunciado corregido." in html and "Primer enunciado." not in html
    assert "Texto nuevo." in html and "Texto viejo." not in html
