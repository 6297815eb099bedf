"""What the student controls (names, labels, variables, page content, how many things they make)
is shown in a Docker-state check's explanation escaped, on one line, without control or
bidirectional characters, and cut short."""

from __future__ import annotations

import pytest

from exercises.docker_checks import listed, shown
from sandbox import engine
from tests.exercises.conftest import HTMX, check_url, write_lesson
from tests.exercises.test_docker_state_checks import outcome, sh

pytestmark = pytest.mark.docker

EVIL = "<script>alert(1)</script>\u202edlrow\x1b[31m\nsegunda línea"


def test_shown_strips_control_and_bidi_characters_and_cuts() -> None:
    text = shown(EVIL + "x" * 500)
    assert "\u202e" not in text and "\x1b" not in text and "\n" not in text
    assert text.startswith("«<script>") and text.endswith("…»")
    assert len(text) <= 62
    assert listed([f"c{i}" for i in range(30)]).endswith("«c5» y 24 más")


async def test_a_hostile_env_value_and_label_are_cut_and_cleaned(sandbox) -> None:
    quoted = EVIL.replace("'", "")
    result = await engine.run(
        sandbox,
        [
            "docker",
            "run",
            "-d",
            "--name",
            "app",
            "-e",
            "COLOR=" + quoted + "y" * 300,
            "--label",
            "nota=" + quoted,
            "muelle/busybox",
            "sleep",
            "600",
        ],
        timeout=60,
    )
    assert result.exit_code == 0, result
    passed, detail = await outcome(sandbox, "tipo: contenedor\nnombre: app\nentorno: COLOR=azul")
    assert not passed
    assert "tiene «COLOR=<script>alert(1)</script>" in detail
    assert "\u202e" not in detail and "\x1b" not in detail and "\n" not in detail
    assert "y" * 100 not in detail and len(detail) < 300


async def test_many_containers_are_listed_capped(sandbox) -> None:
    await sh(
        sandbox,
        "for i in $(seq 8); do "
        "docker create -m 16m --name caja$i muelle/busybox >/dev/null || exit 1; done",
    )
    passed, detail = await outcome(sandbox, "tipo: contenedor\nnombre: web")
    assert not passed
    assert detail.startswith("No hay ningún contenedor llamado «web». Contenedores que ves: «caja")
    assert detail.endswith(" y 2 más.")


async def test_a_hostile_page_is_escaped_on_the_exercise_card(
    async_client, settings, tmp_path, remove_sandboxes
) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    write_lesson(
        folder,
        "web",
        "ejercicios:\n  - id: pagina\n    titulo: Página\n    enunciado: Sirve una página.\n"
        "    pista: Usa un servidor.\n    comprobaciones:\n      - tipo: http\n"
        "        puerto: 8081\n"
        "        contiene: Bienvenida\n        ok: Responde.\n        error: No responde bien.\n",
    )
    settings.LESSONS_DIR = folder
    await async_client.post(check_url("web", "pagina"), **HTMX)  # starts the sandbox
    from sandbox.terminals import owner_key

    session = await async_client.asession()
    sandbox = await engine.get(owner_key(session.session_key))
    assert sandbox is not None
    page = "<img src=x onerror=alert(1)>\u202e hola"
    await engine.run(
        sandbox,
        [
            "/bin/sh",
            "-c",
            'mkdir -p ~/w && printf "%s" "$1" > ~/w/index.html && cd ~/w && '
            "python3 -m http.server 8081 --bind 127.0.0.1 >/dev/null 2>&1 &",
            "sh",
            page,
        ],
    )
    await sh(
        sandbox,
        "bash -c 'for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/8081) "
        "2>/dev/null && exit 0; sleep 0.1; done; exit 1'",
    )
    response = await async_client.post(check_url("web", "pagina"), **HTMX)
    html = response.content.decode()
    assert 'data-result="fallido"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html and "\u202e" not in html


async def test_a_hostile_image_label_is_cut_and_cleaned(sandbox) -> None:
    await sh(sandbox, "docker create -m 16m --name base muelle/busybox true >/dev/null")
    result = await engine.run(
        sandbox,
        [
            "docker",
            "commit",
            "-c",
            'LABEL nota="' + EVIL.replace("\n", " ") + "z" * 300 + '"',
            "base",
            "mala:1",
        ],
        timeout=60,
    )
    assert result.exit_code == 0, result
    passed, detail = await outcome(sandbox, "tipo: imagen\nnombre: mala:1\netiqueta: nota=buena")
    assert not passed
    assert "su etiqueta «nota» vale «<script>alert(1)</script>" in detail
    assert "\u202e" not in detail and "\x1b" not in detail
    assert "z" * 100 not in detail and "no «buena»" in detail
