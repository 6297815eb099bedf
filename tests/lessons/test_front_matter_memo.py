"""lessons.frontmatter.read remembers what it found for a text: the same text is parsed once per
process and gives the same result, each caller gets its own copy, and the memory stays bounded
while keeping what is used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from lessons import catalog, frontmatter

COURSE = Path(settings.BASE_DIR) / "content" / "lessons"


def spy_on(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """The texts frontmatter.<name> is called with from now on; the real function still runs."""
    seen: list[str] = []
    real = getattr(frontmatter, name)

    def counted(yaml_text: str, first_line: int) -> Any:
        seen.append(yaml_text)
        return real(yaml_text, first_line)

    monkeypatch.setattr(frontmatter, name, counted)
    return seen


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts the real parser (frontmatter._read) was run on."""
    frontmatter.forget_reads()
    yield spy_on(monkeypatch, "_read")
    frontmatter.forget_reads()


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
    reads = spy_on(monkeypatch, "read")
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
