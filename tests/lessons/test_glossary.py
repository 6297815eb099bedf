"""The glossary: its page, the terms each lesson links, and check_lessons on a broken file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from lessons import glossary

from .conftest import WriteLesson

GLOSSARY = """\
- termino: contenedor
  docker: container
  definicion: Un proceso aislado.
  leccion: primera
- termino: imagen
  docker: image
  definicion: Una plantilla de solo lectura.
"""


@pytest.fixture
def course(write_lesson: WriteLesson, lessons_dir: Path, settings: Any, tmp_path: Path) -> Path:
    write_lesson("01-primera.md", slug="primera", titulo="La primera")
    path = tmp_path / "glosario.yaml"
    path.write_text(GLOSSARY, encoding="utf-8")
    settings.GLOSSARY_FILE = str(path)
    return path


def test_the_page_lists_every_term_with_docker_s_name_and_its_lesson(
    client: Client, course: Path
) -> None:
    html = client.get("/glosario/").content.decode()
    assert 'id="termino-contenedor"' in html and 'id="termino-imagen"' in html
    assert "(container)" in html and "Una plantilla de solo lectura." in html
    assert 'href="/lecciones/primera/"' in html and "Se explica en «La primera»" in html
    assert html.index("termino-contenedor") < html.index("termino-imagen")


def test_a_lesson_links_the_terms_it_explains(client: Client, course: Path) -> None:
    html = client.get("/lecciones/primera/").content.decode()
    assert "Términos de esta lección" in html
    assert 'href="/glosario/#termino-contenedor"' in html
    assert "termino-imagen" not in html


def test_an_edit_of_the_glossary_shows_without_a_restart(client: Client, course: Path) -> None:
    client.get("/lecciones/primera/")
    moved = GLOSSARY.replace("  leccion: primera\n", "") + "  leccion: primera\n"
    course.write_text(moved, encoding="utf-8")
    html = client.get("/lecciones/primera/").content.decode()
    assert 'href="/glosario/#termino-imagen"' in html
    assert "termino-contenedor" not in html


def test_check_lessons_reports_each_problem_of_the_glossary_with_its_line(
    course: Path, lessons_dir: Path, settings: Any
) -> None:
    course.write_text(
        GLOSSARY
        + "- termino: contenedor\n  docker: x\n  definicion: otra vez\n"  # line 8: repeated
        + "- termino: red\n  docker: network\n  leccion: no-existe\n  color: azul\n",  # 11
        encoding="utf-8",
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_lessons", str(lessons_dir), stdout=out)
    text = out.getvalue()
    assert "glosario.yaml:8: error: el término «contenedor» ya está en la línea 1" in text
    assert "glosario.yaml:11: error: clave desconocida «color»" in text
    assert "glosario.yaml:11: error: falta «definicion»" in text


def test_a_glossary_past_its_size_is_refused_with_its_reason(course: Path) -> None:
    # Two-byte letters, placed so that the read (one byte past the bound) ends inside one:
    # that must not turn «too big» into «cannot be read».
    def oversized(shift: int) -> str:
        lines = ("# " + " " * shift + "ñ" * 500 + "\n") * (glossary.MAX_GLOSSARY_BYTES // 1000 + 1)
        return GLOSSARY + lines

    def cut_inside_a_letter(text: str) -> bool:
        read = text.encode()[: glossary.MAX_GLOSSARY_BYTES + 1]
        return read.decode("utf-8", "ignore").encode() != read

    course.write_text(next(t for t in map(oversized, range(4)) if cut_inside_a_letter(t)))
    found = glossary.read(course)
    assert found.terms == ()
    assert [(p.line, p.message) for p in found.problems] == [
        (1, f"el glosario pasa de {glossary.MAX_GLOSSARY_BYTES // 1024} KiB: acórtalo")
    ]
    course.write_text(GLOSSARY)  # back under the bound, read again
    assert len(glossary.read(course).terms) == 2


def test_an_unknown_lesson_in_the_glossary_is_an_error(course: Path) -> None:
    found = glossary.read(course)
    problems = glossary.lesson_problems(found, {"otra"}, course)
    assert [p.line for p in problems] == [4]
    assert "«primera», que no existe" in problems[0].message


def test_the_committed_glossary_names_only_lessons_of_the_course(settings: Any) -> None:
    from lessons import catalog

    found = glossary.read(Path(settings.BASE_DIR) / "content" / "glosario.yaml")
    course = catalog.build_catalog(Path(settings.BASE_DIR) / "content" / "lessons", use_cache=False)
    slugs = {lesson.slug for lesson in course.entries if lesson.slug}
    assert found.problems == ()
    assert len(found.terms) >= 25
    assert glossary.lesson_problems(found, slugs, Path("glosario.yaml")) == []
