"""lessons.frontmatter.read remembers what it found for a text: the same text is parsed once per
process and gives the same result, each caller gets its own copy, and the memory stays bounded.
And a value PyYAML cannot build (`!!int` with nothing after it, a date that does not exist) is
a finding on the value's own line, as other YAML errors are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from lessons import catalog, frontmatter

COURSE = Path(settings.BASE_DIR) / "content" / "lessons"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the real parser was run on (a spy around frontmatter._read: it still parses)."""
    frontmatter._remembered.cache_clear()
    seen: list[str] = []
    real = frontmatter._read

    def counted(yaml_text: str, first_line: int) -> Any:
        seen.append(yaml_text)
        return real(yaml_text, first_line)

    monkeypatch.setattr(frontmatter, "_read", counted)
    yield seen
    frontmatter._remembered.cache_clear()


def course_texts() -> list[frontmatter.Split]:
    found = [frontmatter.split(p.read_text(encoding="utf-8")) for p in COURSE.rglob("index.md")]
    assert len(found) >= 10
    return found


def test_the_same_text_is_parsed_once_and_reads_the_same(parses: list[str]) -> None:
    for parts in course_texts():
        first = frontmatter.read(parts.yaml_text, parts.yaml_line)
        again = frontmatter.read(parts.yaml_text, parts.yaml_line)
        assert first.usable and first.data["slug"]
        assert (again.data, again.key_lines, again.findings) == (
            first.data,
            first.key_lines,
            first.findings,
        )
    assert len(parses) == len(course_texts())


def test_a_catalog_read_again_parses_nothing_new(
    parses: list[str], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real_read = frontmatter.read

    def counted_read(yaml_text: str, first_line: int) -> Any:
        reads.append(yaml_text)
        return real_read(yaml_text, first_line)

    monkeypatch.setattr(frontmatter, "read", counted_read)
    settings.LESSONS_DIR = COURSE
    catalog.clear_caches()
    first = catalog.get_catalog()
    parsed = len(parses)
    assert parsed >= 10 and len(reads) == parsed
    catalog.clear_caches()
    again = catalog.get_catalog()
    # The catalog asked again for every lesson; none was parsed again.
    assert len(reads) == 2 * parsed
    assert len(parses) == parsed
    assert [lesson.slug for lesson in again.lessons] == [lesson.slug for lesson in first.lessons]
    catalog.clear_caches()


def test_each_caller_gets_its_own_copy(parses: list[str]) -> None:
    text = "titulo: Hola\nobjetivos:\n  - uno\n"
    first = frontmatter.read(text, 2)
    first.data["objetivos"].append("cambiado por quien llamó")
    first.data["titulo"] = "otro"
    first.findings.clear()
    again = frontmatter.read(text, 2)
    assert again.data == {"titulo": "Hola", "objetivos": ["uno"]}
    assert again.findings  # the missing required keys, still there
    assert len(parses) == 1


def test_another_first_line_or_language_is_read_again(parses: list[str]) -> None:
    text = "titulo: Hola\n"
    at_two = frontmatter.read(text, 2)
    at_five = frontmatter.read(text, 5)
    assert at_two.key_lines == {"titulo": 2} and at_five.key_lines == {"titulo": 5}
    with translation.override("en"):
        frontmatter.read(text, 2)
    assert len(parses) == 3


def test_the_memo_is_bounded_and_keeps_what_is_used(parses: list[str]) -> None:
    size = frontmatter.READ_MEMO_SIZE
    for number in range(size * 2 + 1):
        frontmatter.read("titulo: la de siempre\n", 2)  # used all along: stays
        frontmatter.read(f"titulo: Lección {number}\n", 2)
    assert frontmatter._remembered.cache_info().currsize == size
    assert len(parses) == 1 + size * 2 + 1
    frontmatter.read("titulo: la de siempre\n", 2)
    assert len(parses) == 1 + size * 2 + 1


EMPTY_TAG = (
    "YAML no válido: un valor con etiqueta (como «!!int») está vacío o no se puede leer; quita "
    "la etiqueta o escribe el valor"
)
BAD_DATE = (
    "YAML no válido: un valor no se puede leer (¿una fecha u hora mal escrita?); pon ese valor "
    "entre comillas"
)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("titulo: Hola\nduracion: !!int\n", 3, EMPTY_TAG),
        ("titulo: Hola\norden: 1\nduracion: !!float\n", 4, EMPTY_TAG),
        ("titulo: Hola\nborrador: !!bool\n", 3, EMPTY_TAG),
        ("titulo: Hola\nfecha: !!timestamp\n", 3, EMPTY_TAG),
        ("titulo: Hola\nfecha: !!timestamp hola\n", 3, EMPTY_TAG),
        ("titulo: Hola\nfecha: !!timestamp 2026-13-45\n", 3, BAD_DATE),
        # A merge key before it (PyYAML builds `<<` no other way) is not the line blamed.
        ("base: &b {x: 1}\notra:\n  <<: *b\nduracion: !!int\n", 5, EMPTY_TAG),
        ("otra:\n  lista:\n    - uno\n    - !!int\n", 5, EMPTY_TAG),
    ],
)
def test_a_value_that_cannot_be_built_is_a_finding_on_its_line(
    text: str, line: int, message: str
) -> None:
    found = frontmatter.read(text, 2)
    assert not found.usable
    [error] = [f for f in found.findings if f.level == "error"]
    assert (error.line, error.message) == (line, message)


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
