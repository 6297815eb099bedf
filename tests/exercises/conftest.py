"""Fixtures for the exercises tests: a private sandbox instance on the real engine, lessons in a
temporary LESSONS_DIR, and clean-up of every container a test made."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from exercises import spec
from sandbox.terminals import owner_key


@pytest.fixture(autouse=True)
def _own_sandbox_instance(settings: Any) -> None:
    # Our own instance label: other test runs on this engine never reap our containers, and
    # clean-up removes only ours. No warm pool: every test starts exactly what it uses.
    settings.SANDBOX_INSTANCE = f"test-ejercicios-{secrets.token_hex(4)}"
    settings.SANDBOX_WARM_POOL = 0


@pytest.fixture
async def remove_sandboxes(transactional_db: None) -> AsyncIterator[None]:
    """Removes, after the test, every sandbox of this test's instance."""
    from sandbox import engine

    yield
    await engine.stop_background_tasks()
    for sandbox in await engine.list_managed():
        await engine.remove_now(sandbox.container_id)


async def new_sandbox() -> Any:
    """A sandbox of a new student (a fixture that needs settings changed first calls it after)."""
    from sandbox import engine

    return await engine.acquire(owner_key("test:" + secrets.token_urlsafe(12)))


@pytest.fixture
async def sandbox(remove_sandboxes: None) -> Any:
    return await new_sandbox()


def exercise_from_yaml(text: str) -> spec.Exercise:
    [exercise] = spec.parse({"ejercicios": yaml.safe_load(text)})
    return exercise


LESSON_HEAD = """\
---
titulo: {title}
slug: {slug}
orden: {order}
resumen: Una lección para las pruebas de los ejercicios.
nivel: básico
duracion: 5
objetivos:
  - Probar los ejercicios
"""

# A lesson whose exercises cover every check kind; its reference solutions are right.
PRACTICE_EXERCISES = """\
ejercicios:
  - id: crea-archivo
    titulo: Crea un archivo
    enunciado: Crea `~/hola.txt` con la palabra «hola».
    pista: Usa `echo hola > ~/hola.txt`.
    solucion: "`echo hola > ~/hola.txt`"
    comprobaciones:
      - tipo: archivo
        ruta: ~/hola.txt
        contiene: hola
        ok: El archivo existe y dice hola.
        error: No encontramos ~/hola.txt con «hola» dentro.
    solucion_comandos:
      - echo hola > ~/hola.txt
  - id: deja-un-proceso
    titulo: Deja un proceso en marcha
    enunciado: Ejecuta `sleep 1000 &` y crea `~/listo.txt`.
    pista: Escribe `sleep 1000 &` y pulsa Intro.
    depende_de: crea-archivo
    comprobaciones:
      - tipo: proceso
        nombre: '^sleep [0-9]+'
        ok: Tu sleep está en marcha.
        error: No vemos ningún sleep en tu contenedor.
      - tipo: comando
        comando: test -s ~/listo.txt
        ok: listo.txt está ahí.
        error: Falta ~/listo.txt.
    solucion_comandos:
      - sleep 1000 >/dev/null 2>&1 &
      - echo listo > ~/listo.txt
  - id: tu-kernel
    titulo: Tu kernel
    enunciado: Escribe la versión del kernel que muestra `uname -r`.
    pista: Copia la línea entera que muestra `uname -r`.
    comprobaciones:
      - tipo: respuesta
        comando: uname -r
        ok: Es la versión del kernel.
        error: Esa no es la versión del kernel que ve tu contenedor.
    solucion_respuesta:
      comando: uname -r
"""


def write_lesson(
    folder: Any, slug: str, exercises: str, *, order: int = 1, title: str = "Lección de prueba"
) -> Any:
    path = folder / f"{order:02d}-{slug}.md"
    text = LESSON_HEAD.format(title=title, slug=slug, order=order) + exercises + "---\n\nCuerpo.\n"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def lessons_dir(settings: Any, tmp_path: Any) -> Any:
    """A temporary LESSONS_DIR holding the practice lesson (slug `practica`)."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    write_lesson(folder, "practica", PRACTICE_EXERCISES)
    settings.LESSONS_DIR = folder
    return folder


def check_url(lesson: str, exercise: str) -> str:
    from django.urls import reverse

    return reverse("exercises:check", args=[lesson, exercise])


HTMX: dict[str, Any] = {"headers": {"HX-Request": "true"}}


@pytest.fixture
def course_registry(settings: Any, tmp_path: Any) -> Any:
    """A course registry of this test's own on a free loopback port, with the settings pointing
    at it: lessons that push and pull (lesson 13) need one, and CI starts none on its own."""
    import socket

    from sandbox import course_registry as registry

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path / "registry"
    process = registry.start(folder, port)
    settings.REGISTRY_URL = f"http://127.0.0.1:{port}"
    settings.REGISTRY_PASSWORD_FILE = str(folder / "password")
    yield
    registry.stop(process)
