"""lessons.catalog is the API other features use: ordered lessons and their whole front matter."""

from __future__ import annotations

from pathlib import Path

from lessons import catalog

from .conftest import WriteLesson


def test_it_gives_the_available_lessons_in_course_order(write_lesson: WriteLesson) -> None:
    write_lesson("b.md", slug="segunda", orden=2)
    write_lesson("a.md", slug="tercera", orden=3)
    write_lesson("c.md", slug="primera", orden=1)
    write_lesson("d.md", raw="sin cabecera\n")

    course = catalog.get_catalog()

    assert [lesson.slug for lesson in course] == ["primera", "segunda", "tercera"]
    assert len(course.entries) == 4 and len(course) == 3


def test_get_lesson_keeps_unknown_keys_for_other_features(write_lesson: WriteLesson) -> None:
    path = write_lesson(
        "01-x.md",
        slug="con-ejercicios",
        ejercicios=[{"id": "hola", "titulo": "Di hola"}],
        autora="Ana",
    )
    lesson = catalog.get_lesson("con-ejercicios")

    assert lesson is not None
    assert lesson.front_matter["ejercicios"] == [{"id": "hola", "titulo": "Di hola"}]
    assert lesson.front_matter["autora"] == "Ana"
    assert lesson.title == "Lección de prueba" and lesson.order == 1
    assert lesson.url == "/lecciones/con-ejercicios/"
    assert lesson.path == path
    assert lesson.front_matter_line == 2
    assert "ejercicios:" in lesson.front_matter_text
    assert lesson.key_lines["slug"] == 3
    # `autora` is unknown: a warning, not an error; `ejercicios` belongs to the exercises app.
    messages = [p.message for p in lesson.problems]
    assert any("autora" in m for m in messages)
    assert not any("ejercicios" in m for m in messages)
    assert lesson.available


def test_get_lesson_is_none_for_unknown_or_unavailable(write_lesson: WriteLesson) -> None:
    write_lesson("01-x.md", slug="rota", nivel="experto")
    assert catalog.get_lesson("rota") is None
    assert catalog.get_lesson("no-existe") is None
    assert catalog.get_catalog().find("rota") is not None


def test_neighbours_skip_unavailable_lessons(write_lesson: WriteLesson) -> None:
    write_lesson("01.md", slug="uno", orden=1)
    write_lesson("02.md", slug="dos", orden=2, duracion="mucho")
    write_lesson("03.md", slug="tres", orden=3)
    course = catalog.get_catalog()
    previous, following = course.neighbours(course.get("uno"))
    assert previous is None and following.slug == "tres"


def test_it_reads_the_folder_from_settings(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.LESSONS_DIR = tmp_path
    (tmp_path / "01-x.md").write_text(
        "---\ntitulo: X\nslug: x\norden: 1\nresumen: R\nnivel: básico\nduracion: 5\n"
        "objetivos: [uno]\n---\nCuerpo\n",
        encoding="utf-8",
    )
    assert [lesson.slug for lesson in catalog.get_catalog()] == ["x"]
