"""An instructor edits a lesson file and sees the change on the next request, no restart."""

from __future__ import annotations

import os
from pathlib import Path

from django.test import Client

from lessons import catalog, rendering

from .conftest import WriteLesson, lesson_text


def test_an_edited_lesson_shows_the_new_text_on_reload(
    client: Client, write_lesson: WriteLesson
) -> None:
    path = write_lesson("01-uno.md", "## Primera versión\n\nTexto viejo.\n", slug="uno")
    assert "Texto viejo." in client.get("/lecciones/uno/").content.decode()

    path.write_text(lesson_text("## Segunda versión\n\nTexto nuevo, ya editado.\n", slug="uno"))

    html = client.get("/lecciones/uno/").content.decode()
    assert "Texto nuevo, ya editado." in html and "Texto viejo." not in html
    assert 'id="sec-segunda-version"' in html


def test_an_edit_that_keeps_the_size_is_seen_through_the_mtime(
    client: Client, write_lesson: WriteLesson
) -> None:
    path = write_lesson("01-uno.md", "Versión AAAA.\n", slug="uno")
    assert "AAAA" in client.get("/lecciones/uno/").content.decode()
    before = path.stat()
    path.write_text(lesson_text("Versión BBBB.\n", slug="uno"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == before.st_size

    assert "BBBB" in client.get("/lecciones/uno/").content.decode()


def test_front_matter_edits_and_new_lessons_reach_the_index(
    client: Client, write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    path = write_lesson("01-uno.md", slug="uno", titulo="Título antiguo")
    assert "Título antiguo" in client.get("/").content.decode()

    path.write_text(lesson_text(slug="uno", titulo="Título corregido"))
    write_lesson("02-dos.md", slug="dos", orden=2, titulo="Una lección recién añadida")

    html = client.get("/").content.decode()
    assert "Título corregido" in html and "Título antiguo" not in html
    assert "Una lección recién añadida" in html
    assert client.get("/lecciones/dos/").status_code == 200


def test_an_unchanged_lesson_is_served_from_the_cache(write_lesson: WriteLesson) -> None:
    write_lesson("01-uno.md", slug="uno")
    first = catalog.get_catalog()
    lesson = first.get("uno")
    rendered = rendering.render_lesson(lesson, first.link_index, first.version)

    again = catalog.get_catalog()
    assert again is first
    assert rendering.render_lesson(lesson, again.link_index, again.version) is rendered


def test_a_deleted_lesson_disappears(client: Client, write_lesson: WriteLesson) -> None:
    path = write_lesson("01-uno.md", slug="uno")
    assert client.get("/lecciones/uno/").status_code == 200
    path.unlink()
    assert client.get("/lecciones/uno/").status_code == 404
