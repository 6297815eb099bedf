"""Fixtures for the lesson tests: a throwaway LESSONS_DIR and a way to write lessons into it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lessons import catalog, pages, rendering

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = FIXTURES / "seed_que_es_docker.txt"


@pytest.fixture(autouse=True)
def _sessions_need_the_database(db: None) -> None:
    # Every lesson page hands out a session (the terminal's websocket needs its cookie), and
    # sessions live in the database.
    return None


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    for clear in (catalog.clear_caches, rendering.clear_cache, pages.clear_cache):
        clear()
    yield
    for clear in (catalog.clear_caches, rendering.clear_cache, pages.clear_cache):
        clear()


def front_matter(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "titulo": "Lección de prueba",
        "slug": "leccion-de-prueba",
        "orden": 1,
        "resumen": "Un resumen corto.",
        "nivel": "básico",
        "duracion": 10,
        "objetivos": ["Aprender algo"],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def lesson_text(body: str = "## Hola\n\nTexto.\n", **overrides: Any) -> str:
    dumped = yaml.safe_dump(front_matter(**overrides), allow_unicode=True, sort_keys=False)
    return f"---\n{dumped}---\n\n{body}"


WriteLesson = Callable[..., Path]


@pytest.fixture
def lessons_dir(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "lecciones"
    root.mkdir()
    settings.LESSONS_DIR = root
    return root


@pytest.fixture
def write_lesson(lessons_dir: Path) -> WriteLesson:
    """write_lesson("02-x.md", body=..., slug=..., ...) or write_lesson(name, raw="...")."""

    def write(
        name: str, body: str = "## Hola\n\nTexto.\n", *, raw: str | bytes | None = None, **fm: Any
    ) -> Path:
        path = lessons_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = raw if raw is not None else lesson_text(body, **fm)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write
