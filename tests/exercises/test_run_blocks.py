"""manage.py run_blocks: a lesson's runnable blocks run in order in a fresh sandbox with its
gateway, as «Ejecutar» would run them; failures come with file, line and output; `falla` and
`interactivo` markers; copy-only blocks never run; check_lessons knows the markers."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.exercises.conftest import write_lesson

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

FENCE = "```"
BODY = f"""
## Bloques

{FENCE}bash ejecutable
mkdir -p ~/proyecto && cd ~/proyecto
export COLOR=azul
{FENCE}

Solo para copiar (nunca se ejecuta):

{FENCE}bash
touch ~/nunca
{FENCE}

{FENCE}bash ejecutable
test "$(pwd)" = "$HOME/proyecto"
test "$COLOR" = azul
test ! -e ~/nunca
docker run --rm muelle/hola
{FENCE}

{FENCE}bash ejecutable falla
docker rm no-existe
{FENCE}

{FENCE}bash ejecutable interactivo
docker run -it muelle/busybox sh
{FENCE}
"""


def lesson(folder: Path, slug: str, body: str, order: int = 1) -> Path:
    path = write_lesson(folder, slug, "", order=order)
    path.write_text(path.read_text().replace("\nCuerpo.\n", body), encoding="utf-8")
    return path


def run_blocks(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("run_blocks", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def lessons(settings, tmp_path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    settings.LESSONS_DIR = folder
    return folder


def line_of(path: Path, text: str, after: int = 0) -> int:
    lines = path.read_text().splitlines()
    return lines.index(text, after) + 1


def test_blocks_run_in_order_sharing_folder_and_variables(lessons, remove_sandboxes) -> None:
    path = lesson(lessons, "bloques", BODY)
    code, out, err = run_blocks("bloques")
    assert code == 0, out + err
    first = line_of(path, f"{FENCE}bash ejecutable")
    assert f"✓ {path}:{first}\n" in out  # paths as the instructor can paste them
    interactive = line_of(path, f"{FENCE}bash ejecutable interactivo")
    assert f":{interactive}: saltado (marcado «interactivo»)" in out
    assert "1 lección: 3 bloques bien, 0 fallan, 1 saltados." in out


def test_a_failing_line_and_a_falla_block_that_succeeds_are_reported(
    lessons, remove_sandboxes
) -> None:
    body = (
        f"\n{FENCE}bash ejecutable\necho antes\nfalse\necho después\n{FENCE}\n\n"
        f"{FENCE}bash ejecutable falla\necho todo bien\n{FENCE}\n"
    )
    path = lesson(lessons, "rotos", body)
    code, _out, err = run_blocks(str(path))  # a path, as check_lessons prints it
    assert code == 1
    first = line_of(path, f"{FENCE}bash ejecutable")
    assert f":{first}: el bloque terminó con el código 1. Salida:\n    antes\n" in err
    assert "después" not in err
    second = line_of(path, f"{FENCE}bash ejecutable falla")
    assert f":{second}: el bloque está marcado «falla» pero terminó bien (código 0)" in err
    assert "    todo bien" in err
    assert "1 lección: 0 bloques bien, 2 fallan, 0 saltados." in err


def test_a_block_that_never_ends_is_stopped_and_reported(lessons, remove_sandboxes) -> None:
    path = lesson(lessons, "lento", f"\n{FENCE}bash ejecutable\necho empieza\nsleep 60\n{FENCE}\n")
    code, _out, err = run_blocks("lento", "--timeout", "2")
    assert code == 1
    line = line_of(path, f"{FENCE}bash ejecutable")
    assert f":{line}: el bloque no terminó en el tiempo límite" in err
    assert "    empieza" in err


def test_an_unknown_lesson_is_reported_without_running_anything(lessons) -> None:
    code, out, err = run_blocks("no-existe")
    assert code == 1
    assert "No existe ninguna lección «no-existe»." in err
    assert "0 lecciones: 0 bloques bien" in err


def test_check_lessons_knows_the_markers(lessons) -> None:
    body = (
        f"\n{FENCE}bash ejecutable falla\nfalse\n{FENCE}\n\n"
        f"{FENCE}bash ejecutable interactivo\ndocker run -it muelle/busybox sh\n{FENCE}\n\n"
        f"{FENCE}bash ejecutable fallo\ntrue\n{FENCE}\n\n"
        f"{FENCE}bash falla\nfalse\n{FENCE}\n"
    )
    path = lesson(lessons, "marcas", body)
    out = StringIO()
    call_command("check_lessons", str(path), stdout=out)
    text = out.getvalue()
    typo = line_of(path, f"{FENCE}bash ejecutable fallo")
    assert f":{typo}: aviso: opciones de bloque de código no reconocidas (fallo)" in text
    alone = line_of(path, f"{FENCE}bash falla")
    assert f":{alone}: aviso: «falla» solo tiene sentido en un bloque «ejecutable»" in text
    assert text.count("aviso:") == 2, text


def test_marked_blocks_keep_their_run_button(lessons, client) -> None:
    lesson(lessons, "boton", f"\n{FENCE}bash ejecutable falla\ndocker rm x\n{FENCE}\n")
    html = client.get("/lecciones/boton/").content.decode()
    assert 'data-runnable="true"' in html and 'data-action="run"' in html


def test_every_runnable_block_of_the_course_passes(
    settings, course_registry, remove_sandboxes
) -> None:
    # CI's run over the whole course, three lessons at a time (each in its own sandbox).
    settings.LESSONS_DIR = Path(__file__).resolve().parents[2] / "content" / "lessons"
    code, out, err = run_blocks("--paralelo", "3")
    assert code == 0, err
    assert " 0 fallan" in out
