"""A `respuesta` whose expected answer is a field of the student's container (`contenedor` +
`dato`), read through their gateway instead of a `docker …` command in the sandbox: the exit
code, restart count, state, IP on a network, published port and a value in its log. Against a
real sandbox and the real engine; the docker CLI in the sandbox gives the reference value."""

from __future__ import annotations

import pytest

from exercises.checks import run_checks
from sandbox import engine
from tests.exercises.conftest import exercise_from_yaml
from tests.exercises.docker_check_outcomes import start_api_on_backend
from tests.exercises.test_docker_state_checks import one_check, sh

pytestmark = pytest.mark.docker

EVIL = "<script>alert(1)</script>\u202edlrow\x1b[31m"


async def answered(sandbox: engine.Sandbox, check_yaml: str, answer: str) -> tuple[bool, str]:
    exercise = exercise_from_yaml(one_check(check_yaml))
    [result] = await run_checks(exercise, sandbox, answer)
    return result.passed, result.detail


async def test_exit_code_restarts_and_state(sandbox) -> None:
    code = "tipo: respuesta\ncontenedor: despensa\ndato: codigo"
    assert await answered(sandbox, code, "") == (False, "No has escrito ninguna respuesta.")
    assert await answered(sandbox, code, "137") == (
        False,
        "No se pudo obtener el valor con el que comparar: No hay ningún contenedor llamado "
        "«despensa».",
    )
    await sh(sandbox, "docker run -d -m 16m --name despensa muelle/busybox sleep 600 >/dev/null")
    assert await answered(sandbox, code, "0") == (
        False,
        "No se pudo obtener el valor con el que comparar: El contenedor «despensa» todavía no "
        "ha terminado.",
    )
    state = "tipo: respuesta\ncontenedor: despensa\ndato: estado"
    assert await answered(sandbox, state, " Running ") == (True, "")

    await sh(sandbox, "docker kill despensa >/dev/null")
    reference = (await sh(sandbox, "docker inspect -f '{{.State.ExitCode}}' despensa")).strip()
    assert reference == "137"
    assert await answered(sandbox, code, "137") == (True, "")
    assert await answered(sandbox, code, "0") == (False, "Tu respuesta no es la esperada.")
    assert await answered(sandbox, code, "$(rm -rf ~)") == (
        False,
        "Tu respuesta no es la esperada.",
    )
    assert await answered(sandbox, state, "exited") == (True, "")
    restarts = "tipo: respuesta\ncontenedor: despensa\ndato: reinicios"
    assert await answered(sandbox, restarts, "0") == (True, "")


async def test_ip_on_a_network_and_published_port_match_what_the_cli_shows(sandbox) -> None:
    await start_api_on_backend(sandbox, 80, "-p 80")
    ip = (
        await sh(
            sandbox,
            "docker inspect -f '{{(index .NetworkSettings.Networks \"backend\").IPAddress}}' api",
        )
    ).strip()
    port = (await sh(sandbox, "docker port api 80/tcp | head -n 1 | sed 's/.*://'")).strip()
    assert ip and port.isdigit()

    by_ip = "tipo: respuesta\ncontenedor: api\ndato: ip\nred: backend"
    assert await answered(sandbox, by_ip, ip) == (True, "")
    assert await answered(sandbox, by_ip, "10.0.0.1") == (False, "Tu respuesta no es la esperada.")
    passed, detail = await answered(
        sandbox, "tipo: respuesta\ncontenedor: api\ndato: ip\nred: frontend", ip
    )
    assert not passed and detail.endswith(
        "El contenedor «api» no tiene dirección en la red «frontend»; está en: «backend»."
    )

    by_port = "tipo: respuesta\ncontenedor: api\ndato: puerto\npuerto: '80'"
    assert await answered(sandbox, by_port, port) == (True, "")
    passed, detail = await answered(
        sandbox, "tipo: respuesta\ncontenedor: api\ndato: puerto\npuerto: '81'", port
    )
    assert not passed and detail.endswith("El contenedor «api» no publica su puerto 81/tcp.")


async def test_a_value_in_the_log_with_hostile_and_huge_output(sandbox, settings) -> None:
    settings.SANDBOX_RUN_OUTPUT_CAP = 8192
    dice = "tipo: respuesta\ncontenedor: dado\ndato: registro\nextrae: '^Ha salido el (\\d+)'"
    script = (
        "printf '%s\\n' '" + EVIL + "' >&2; echo 'Ha salido el 4'; "
        "head -c 100000 /dev/zero | tr '\\0' x; sleep 600"
    )
    result = await engine.run(
        sandbox,
        [
            "docker",
            "run",
            "-d",
            "-m",
            "16m",
            "--name",
            "dado",
            "muelle/busybox",
            "sh",
            "-c",
            script,
        ],
        timeout=60,
    )
    assert result.exit_code == 0, result
    await sh(
        sandbox,
        "for i in $(seq 50); do docker logs dado 2>&1 | grep -q 'Ha salido' && exit 0; "
        "sleep 0.2; done; exit 1",
    )
    assert await answered(sandbox, dice, "4") == (True, "")
    assert await answered(sandbox, dice, "5") == (False, "Tu respuesta no es la esperada.")

    # With a terminal (docker run -t) the log has no frames; the line after 100 KB of noise is
    # past what is read: the message says so, cleaned and short.
    tty_script = "head -c 100000 /dev/zero | tr '\\0' y; echo; echo '" + EVIL + "'; sleep 600"
    result = await engine.run(
        sandbox,
        ["docker", "run", "-d", "-t", "-m", "16m", "--name", "tty", "muelle/busybox", "sh", "-c"]
        + [tty_script],
        timeout=60,
    )
    assert result.exit_code == 0, result
    # `run -d` answers before the container has written anything: wait for its noise.
    await sh(
        sandbox,
        'for i in $(seq 50); do [ "$(docker logs tty 2>&1 | head -c 100 | wc -c)" = 100 ] '
        "&& exit 0; sleep 0.2; done; exit 1",
    )
    passed, detail = await answered(
        sandbox, "tipo: respuesta\ncontenedor: tty\ndato: registro\nextrae: 'alert'", "x"
    )
    assert not passed
    assert "En lo que escribió «tty» no aparece lo que buscamos; empieza así: «yyy" in detail
    assert "y" * 100 not in detail and "\x1b" not in detail
    await sh(
        sandbox,
        "docker run -t --name corto muelle/busybox echo '"
        + EVIL.replace("\x1b", "")
        + "' >/dev/null",
    )
    passed, detail = await answered(
        sandbox, "tipo: respuesta\ncontenedor: corto\ndato: registro\nextrae: 'nada'", "x"
    )
    assert not passed and "empieza así: «<script>alert(1)</script>" in detail
    assert "\u202e" not in detail
