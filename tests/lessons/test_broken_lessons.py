"""A broken lesson is listed as unavailable, the others keep working, staff see why."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from .conftest import WriteLesson


@pytest.fixture
def course(write_lesson: WriteLesson, lessons_dir: Path) -> Path:
    write_lesson("01-bien.md", "## Todo bien\n", slug="bien", titulo="Lección que funciona")
    write_lesson(
        "02-rota.md",
        slug="rota",
        orden=2,
        raw="---\ntitulo: Lección rota\nslug: rota\norden: 2\nresumen: [sin cerrar\n---\nTexto\n",
    )
    write_lesson("03-tambien.md", slug="tambien", orden=3, titulo="Otra que funciona")
    (lessons_dir / "04-latin1.md").write_bytes("---\ntitulo: Año\n---\n".encode("latin-1"))
    return lessons_dir


def test_students_see_it_listed_as_unavailable(client: Client, course: Path) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lección que funciona" in html and "Otra que funciona" in html
    assert html.count("No disponible") == 2
    assert "Lección rota" in html and "04-latin1.md" in html
    assert 'href="/lecciones/rota/"' not in html
    assert "02-rota.md:5" not in html  # no file names or lines for students


def test_the_other_lessons_still_work_and_skip_it(client: Client, course: Path) -> None:
    html = client.get("/lecciones/bien/").content.decode()
    assert "Todo bien" in html
    assert 'rel="next" href="/lecciones/tambien/"' in html
    assert client.get("/lecciones/tambien/").status_code == 200


def test_the_broken_lesson_url_says_unavailable_not_500(client: Client, course: Path) -> None:
    response = client.get("/lecciones/rota/")
    assert response.status_code == 503
    html = response.content.decode()
    assert "Esta lección no está disponible" in html and "Lección rota" in html
    assert "02-rota.md" not in html and "YAML" not in html  # details are for staff only


@pytest.mark.django_db
def test_staff_see_the_file_line_and_message(
    client: Client, course: Path, django_user_model
) -> None:  # noqa: ANN001
    staff = django_user_model.objects.create_user("profe", is_staff=True)
    client.force_login(staff)

    index = client.get("/").content.decode()
    assert "02-rota.md:5</code> <strong>error</strong>" in index
    assert "YAML no válido" in index
    assert "04-latin1.md:2</code> <strong>error</strong>" in index
    assert "no está en UTF-8" in index

    page = client.get("/lecciones/rota/").content.decode()
    assert "02-rota.md:5" in page and "YAML no válido" in page


@pytest.mark.django_db
def test_students_who_are_logged_in_still_do_not_see_errors(
    client: Client, course: Path, django_user_model
) -> None:  # noqa: ANN001
    client.force_login(django_user_model.objects.create_user("alumna"))
    html = client.get("/").content.decode()
    assert "No disponible" in html and "YAML no válido" not in html


@pytest.mark.django_db
def test_staff_see_warnings_on_an_available_lesson(
    client: Client, write_lesson: WriteLesson, django_user_model
) -> None:  # noqa: ANN001
    write_lesson("01-uno.md", "Enlace [roto](/lecciones/no-existe/).\n", slug="uno")
    client.force_login(django_user_model.objects.create_user("p", is_staff=True))
    html = client.get("/lecciones/uno/").content.decode()
    assert "Enlace" in html
    assert "no hay ninguna lección con el slug «no-existe»" in html


def test_a_missing_lessons_folder_is_an_empty_course_not_an_error(
    client: Client, settings, tmp_path: Path
) -> None:  # noqa: ANN001
    settings.LESSONS_DIR = tmp_path / "no-existe"
    response = client.get("/")
    assert response.status_code == 200
    assert "Todavía no hay lecciones." in response.content.decode()


def test_a_dangling_symlink_does_not_break_the_index(
    client: Client, write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    write_lesson("01-uno.md", slug="uno", titulo="Sigue aquí")
    (lessons_dir / "02-roto.md").symlink_to(lessons_dir / "no-existe.md")
    response = client.get("/")
    assert response.status_code == 200 and "Sigue aquí" in response.content.decode()


def test_in_local_development_the_author_sees_why_without_logging_in(
    client: Client, course: Path, settings
) -> None:  # noqa: ANN001
    settings.DEBUG = True
    page = client.get("/lecciones/rota/")
    html = page.content.decode()
    assert page.status_code == 503
    assert "02-rota.md:5" in html and "YAML no válido" in html
    assert "modo desarrollo" in html
    index = client.get("/").content.decode()
    assert "04-latin1.md:2</code> <strong>error</strong>" in index
