"""Lessons a review's fuzzer found (2026-12-06) that took every page of the site down with a 500,
crashed check_lessons, hung the catalog, or were reported at the wrong line. Each must now be a
problem with its file and line, and every other page must keep answering."""

from __future__ import annotations

import os
import threading
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from lessons import catalog

from .conftest import WriteLesson, lesson_text


def _check(target: Path | None = None) -> str:
    """check_lessons' output, whether it found errors (exit 1) or not; a crash fails the test."""
    out = StringIO()
    try:
        call_command("check_lessons", *([str(target)] if target else []), stdout=out)
    except CommandError as exc:
        out.write(f"\n{exc}\n")
    return out.getvalue()


def _site_answers(client: Client, *paths: str) -> None:
    """The index, the glossary and these pages answer: a page, a broken lesson's 503 («no
    disponible») or an exercise that the broken list does not have (404), never a 500."""
    for path in ("/", "/glosario/", *paths):
        response = client.get(path)
        assert response.status_code in (200, 404, 503), (path, response.status_code)
    assert client.get("/").status_code == 200


@pytest.fixture
def linked(write_lesson: WriteLesson) -> Path:
    """A working lesson that links to lesson 01 (as the real course's lessons link each other)."""
    return write_lesson(
        "02-bien.md",
        "## Bien\n\nVuelve a [la primera](../01-prueba/index.md) o [su título](01-prueba.md#a).\n",
        slug="bien",
        orden=2,
    )


@pytest.mark.parametrize(
    "header",
    [
        "titulo: Prueba\norden: 1\n",  # no slug at all
        "titulo: Prueba\nslúg: prueba\norden: 1\n",  # the fuzzer's favourite typo
        "titulo: Prueba\nslug: Mal_Slug\norden: 1\n",
        "titulo: Prueba\nslug: " + "a" * 90 + "\norden: [1\n",  # salvaged, too long for a URL
    ],
)
def test_a_folder_lesson_without_a_usable_slug_is_its_own_problem(
    client: Client, lessons_dir: Path, linked: Path, header: str
) -> None:
    folder = lessons_dir / "01-prueba"
    folder.mkdir()
    body = "![Una imagen](foto.png) y [otra](../02-bien.md) y [la web](/lecciones/bien/)\n"
    (folder / "index.md").write_text(f"---\n{header}---\n\n{body}", encoding="utf-8")
    (folder / "foto.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    output = _check()
    assert "Traceback" not in output and "01-prueba/index.md:" in output, output
    _site_answers(client, "/lecciones/bien/")


def test_a_link_with_a_control_character_is_reported_where_it_is(
    client: Client, write_lesson: WriteLesson
) -> None:
    write_lesson("01-a.md", "## A\n\nUna [x](a%0A.png) rara.\n", slug="a")
    output = _check()
    assert "01-a.md:14: error: enlace no válido: «a%0A.png» lleva caracteres de control" in output
    _site_answers(client, "/lecciones/a/")


@pytest.mark.parametrize(
    ("check", "shown"),
    [
        ("tipo: [comando]", "tipo de comprobación desconocido"),
        ("tipo: {a: b}", "tipo de comprobación desconocido"),
        ("tipo: respuesta\n        contenedor: web\n        dato: [codigo]", "«dato» debe ser"),
    ],
)
def test_an_exercise_value_of_the_wrong_shape_is_a_problem_not_a_500(
    client: Client, write_lesson: WriteLesson, check: str, shown: str
) -> None:
    exercise = (
        "ejercicios:\n  - id: uno\n    titulo: Uno\n    enunciado: Haz algo.\n    pista: Una.\n"
        f"    comprobaciones:\n      - {check}\n        ok: a\n        error: b\n"
    )
    text = lesson_text("## A\n", slug="a").replace("---\n\n", exercise + "---\n\n", 1)
    write_lesson("01-a.md", raw=text)
    output = _check()
    assert shown in output and "01-a.md:1" in output, output
    _site_answers(client, "/lecciones/a/", "/ejercicios/a/uno/")


@pytest.mark.parametrize(
    ("character", "code"),
    [("\x00", "U+0000"), ("\x0c", "U+000C"), ("\x7f", "U+007F"), ("\u2028", "U+2028")],
)
def test_an_invisible_character_in_the_header_is_named_at_its_line(
    client: Client, write_lesson: WriteLesson, linked: Path, character: str, code: str
) -> None:
    text = lesson_text("## A\n", slug="prueba", titulo="Prueba")
    lines = text.split("\n")
    lines[4] += f" y algo{character} más"  # the header's fifth line (resumen)
    write_lesson("01-prueba.md", raw="\n".join(lines))
    output = _check()
    assert "01-prueba.md:5: error: la cabecera lleva" in output and code in output, output
    assert "unacceptable" not in output and "Traceback" not in output
    _site_answers(client, "/lecciones/bien/")


def test_a_lone_surrogate_in_the_header_is_an_error_before_any_page_breaks(
    client: Client, write_lesson: WriteLesson
) -> None:
    write_lesson(
        "01-a.md",
        raw=lesson_text("## A\n", slug="a").replace(
            "titulo: Lección de prueba", 'titulo: "Hola \\ud800"'
        ),
    )
    output = _check()
    assert "01-a.md:2: error: un valor lleva un código de Unicode" in output, output
    _site_answers(client, "/lecciones/a/")


def test_a_body_nested_past_what_markdown_can_read_fails_the_check(
    client: Client, write_lesson: WriteLesson, linked: Path
) -> None:
    write_lesson("01-prueba.md", "- " * 2000 + "x\n", slug="prueba")
    output = _check()
    assert "01-prueba.md:11: error: no se puede mostrar: hay listas o citas anidadas" in output
    assert "Traceback" not in output
    # The lesson linking to it with an anchor rendered it outside any guard: every page was 500.
    assert "02-bien.md:14: error: no se pudo comprobar el ancla «#a»" in output, output
    _site_answers(client, "/lecciones/bien/", "/lecciones/prueba/")


def test_a_broken_glossary_is_a_problem_and_lessons_still_show(
    client: Client, write_lesson: WriteLesson, tmp_path: Path, settings: Any
) -> None:
    write_lesson("01-a.md", slug="a")
    glossary = tmp_path / "glosario.yaml"
    settings.GLOSSARY_FILE = str(glossary)
    glossary.write_text(
        "- termino: sitio\n  docker: site\n  definicion: Un sitio\x00.\n", encoding="utf-8"
    )
    output = _check()
    assert "glosario.yaml:3: error: el glosario lleva un carácter de control" in output, output
    _site_answers(client, "/lecciones/a/")
    glossary.write_text(
        '- termino: sitio\n  docker: site\n  definicion: "Un sitio\\ud800"\n', encoding="utf-8"
    )
    assert "glosario.yaml:3: error: un valor lleva un código de Unicode" in _check()
    _site_answers(client, "/lecciones/a/")
    glossary.write_text("[" * 2000 + "]" * 2000, encoding="utf-8")
    assert "glosario.yaml:1: error:" in _check()
    _site_answers(client, "/lecciones/a/")


def test_a_fifo_or_a_link_to_a_device_is_not_read(
    client: Client, write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    write_lesson("01-a.md", slug="a")
    os.mkfifo(lessons_dir / "02-tubo.md")
    (lessons_dir / "03-ceros.md").symlink_to("/dev/zero")
    folder = lessons_dir / "04-carpeta"
    folder.mkdir()
    os.mkfifo(folder / "index.md")
    # A FIFO hung every reader of the catalog, and /dev/zero grew without end: run in a thread
    # so that the old behaviour fails the test instead of hanging the suite.
    built: list[catalog.Catalog] = []
    reader = threading.Thread(
        target=lambda: built.append(catalog.build_catalog(lessons_dir, use_cache=False)),
        daemon=True,
    )
    reader.start()
    reader.join(60)  # a bound for a stuck read, not a speed assertion
    assert built, "the catalog never finished reading"
    output = _check()
    for name in ("02-tubo.md", "03-ceros.md", "04-carpeta/index.md"):
        assert f"{name}:1: error: no es un archivo normal" in output, output
    _site_answers(client, "/lecciones/a/")


def test_a_lesson_slow_to_render_is_a_warning(
    write_lesson: WriteLesson, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `[x](` 8,000 times took 16 s to render (quadratic in Python-Markdown), on the first visit
    # of each version. The bound is lowered here so that any render passes it: what is tested is
    # that check_lessons renders each lesson and says so, not how fast this machine is.
    from lessons.management.commands import check_lessons

    monkeypatch.setattr(check_lessons, "SLOW_RENDER_SECONDS", -1.0)
    write_lesson("01-a.md", "[x](" * 50 + "\n", slug="a")
    output = _check()
    assert "01-a.md:11: aviso: tarda " in output and " s en mostrarse: simplifícala" in output
