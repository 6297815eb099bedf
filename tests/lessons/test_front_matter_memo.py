"""lessons.frontmatter.read remembers what it found for a text: the same text is parsed once per
process and gives the same result, each caller gets its own copy, and the memory stays bounded.
And an explicit tag with nothing to read (`!!int`, `!!float`, `!!bool`) is a finding with its
line, not an exception out of the catalog."""

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
    frontmatter._read_memo.clear()
    seen: list[str] = []
    real = frontmatter._read

    def counted(yaml_text: str, first_line: int) -> Any:
        seen.append(yaml_text)
        return real(yaml_text, first_line)

    monkeypatch.setattr(frontmatter, "_read", counted)
    yield seen
    frontmatter._read_memo.clear()


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


def test_a_catalog_read_again_parses_nothing_new(parses: list[str], settings: Any) -> None:
    settings.LESSONS_DIR = COURSE
    catalog.clear_caches()
    first = catalog.get_catalog()
    parsed = len(parses)
    assert parsed >= 10
    catalog.clear_caches()
    again = catalog.get_catalog()
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


def test_the_memo_is_bounded(parses: list[str]) -> None:
    for number in range(frontmatter._READ_MEMO_MAX * 2 + 1):
        frontmatter.read(f"titulo: Lección {number}\n", 2)
    assert len(frontmatter._read_memo) <= frontmatter._READ_MEMO_MAX
    assert len(parses) == frontmatter._READ_MEMO_MAX * 2 + 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("titulo: Hola\nduracion: !!int\n", 3),
        ("titulo: Hola\norden: 1\nduracion: !!float\n", 4),
        ("titulo: Hola\nborrador: !!bool\n", 3),
        ("titulo: Hola\nfecha: !!timestamp 2026-13-45\n", 3),
    ],
)
def test_a_tag_with_nothing_to_read_is_a_finding_on_its_line(text: str, line: int) -> None:
    found = frontmatter.read(text, 2)
    assert not found.usable
    [error] = [f for f in found.findings if f.level == "error"]
    assert error.line == line
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
