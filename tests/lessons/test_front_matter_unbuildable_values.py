"""A value PyYAML cannot build (an explicit tag with nothing after it, `!!int hola`, a date that
does not exist, `0x_`, `!!set hola`) is a finding on the value's own line, worded by its tag or
its look, as other YAML errors are; and a lesson with one is listed with that error by the
catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lessons import catalog, frontmatter


def empty_tag(tag: str) -> str:
    return (
        f"YAML no válido: el valor con la etiqueta «{tag}» está vacío o no se puede leer; quita "
        "la etiqueta o escribe el valor"
    )


LOOKS_LIKE_A_NUMBER = (
    "YAML no válido: un valor que parece un número no se puede leer; pon ese valor entre comillas"
)
BAD_DATE = (
    "YAML no válido: una fecha u hora que no existe o está mal escrita; pon ese valor entre "
    "comillas"
)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("titulo: Hola\nduracion: !!int\n", 3, empty_tag("!!int")),
        ("titulo: Hola\norden: 1\nduracion: !!float\n", 4, empty_tag("!!float")),
        ("titulo: Hola\nborrador: !!bool\n", 3, empty_tag("!!bool")),
        ("titulo: Hola\nduracion: !!int hola\n", 3, empty_tag("!!int")),
        # The error's own text holds the value: it is not read as a YAML problem.
        ('x: !!int "mapping values are not allowed"\n', 2, empty_tag("!!int")),
        ("titulo: Hola\nfecha: !!timestamp\n", 3, BAD_DATE),
        ("titulo: Hola\nfecha: !!timestamp hola\n", 3, BAD_DATE),
        ("titulo: Hola\nfecha: !!timestamp 2026-13-45\n", 3, BAD_DATE),
        ("titulo: Hola\nfecha: 2026-13-45\n", 3, BAD_DATE),
        # No tag was written: none to take away.
        ("titulo: Hola\nx: 0x_\n", 3, LOOKS_LIKE_A_NUMBER),
        ("titulo: Hola\nx: &q 0b_\n", 3, LOOKS_LIKE_A_NUMBER),
        ("titulo: Hola\nx: &q !!int\n", 3, empty_tag("!!int")),
        # A merge key before it (PyYAML builds `<<` no other way) is not the line blamed.
        ("base: &b {x: 1}\notra:\n  <<: *b\nduracion: !!int\n", 5, empty_tag("!!int")),
        ("otra:\n  lista:\n    - uno\n    - !!int\n", 5, empty_tag("!!int")),
    ],
)
def test_a_value_that_cannot_be_built_is_a_finding_on_its_line(
    text: str, line: int, message: str
) -> None:
    found = frontmatter.read(text, 2)
    assert not found.usable
    [error] = [f for f in found.findings if f.level == "error"]
    assert (error.line, error.message) == (line, message)


@pytest.mark.parametrize("text", ["titulo: Hola\nx: !!set hola\n", "titulo: Hola\nx: !!map hola\n"])
def test_a_collection_tag_on_a_plain_value_is_an_error_on_its_line(text: str) -> None:
    [error] = [f for f in frontmatter.read(text, 2).findings if f.level == "error"]
    assert error.line == 3
    assert error.message.startswith("YAML no válido")


def test_a_lesson_with_an_empty_tag_is_listed_with_its_error(tmp_path: Path, settings: Any) -> None:
    folder = tmp_path / "01-rota"
    folder.mkdir()
    (folder / "index.md").write_text(
        "---\ntitulo: Rota\nslug: rota\norden: 1\nresumen: r\nnivel: básico\n"
        "duracion: !!int\nobjetivos:\n  - uno\n---\n\n## Hola\n",
        encoding="utf-8",
    )
    settings.LESSONS_DIR = tmp_path
    catalog.clear_caches()
    try:
        built = catalog.get_catalog()
        problems = [p.format() for p in built.problems] + [
            p.format() for lesson in built.entries for p in getattr(lesson, "problems", ())
        ]
    finally:
        catalog.clear_caches()
    assert any("index.md:7" in problem and "!!int" in problem for problem in problems), problems
