"""The Docker-state check kinds against a real sandbox, its real gateway and the real engine:
the student makes things with `docker` in their sandbox; the checks see them as the student does,
change nothing, and explain what they found."""

from __future__ import annotations

import pytest

from exercises.checks import run_checks
from sandbox import engine
from sandbox.student_docker import for_owner, snapshot
from tests.exercises.conftest import exercise_from_yaml

pytestmark = pytest.mark.docker


def one_check(check_yaml: str) -> str:
    indented = "\n".join("      " + line for line in check_yaml.strip().splitlines())
    return (
        "- id: prueba\n  titulo: Prueba\n  enunciado: Haz algo.\n  pista: Mira bien.\n"
        "  comprobaciones:\n    - ok: Bien.\n      error: Mal.\n" + indented
    )


async def outcome(sandbox: engine.Sandbox, check_yaml: str) -> tuple[bool, str]:
    exercise = exercise_from_yaml(one_check(check_yaml))
    [result] = await run_checks(exercise, sandbox, "")
    return result.passed, result.detail


async def sh(sandbox: engine.Sandbox, command: str, *, code: int = 0) -> str:
    result = await engine.run(sandbox, ["/bin/sh", "-c", command], timeout=60)
    text = result.output.decode("utf-8", "replace")
    assert result.exit_code == code, text
    return text


async def test_contenedor_by_name_state_and_exit_code(sandbox) -> None:
    missing = await outcome(sandbox, "tipo: contenedor\nnombre: web")
    assert missing[0] is False and "No hay ningún contenedor llamado «web»" in missing[1]
    assert (await outcome(sandbox, "tipo: contenedor\nnombre: web\nestado: no-existe"))[0]

    await sh(sandbox, "docker run -d --name web muelle/busybox sleep 600")
    print(await sh(sandbox, "docker ps -a"))
    assert await outcome(sandbox, "tipo: contenedor\nnombre: web") == (True, "")
    passed, detail = await outcome(sandbox, "tipo: contenedor\nnombre: web\nestado: no-existe")
    assert not passed and "Todavía existe: «web»" in detail

    await sh(sandbox, "docker run --name sale muelle/busybox sh -c 'exit 3'", code=3)
    passed, detail = await outcome(sandbox, "tipo: contenedor\nnombre: sale")
    assert not passed
    assert detail == "El contenedor «sale» existe pero está parado (salió con el código 3)."
    assert (await outcome(sandbox, "tipo: contenedor\nnombre: sale\ncodigo: 3"))[0]
    passed, detail = await outcome(sandbox, "tipo: contenedor\nnombre: sale\ncodigo: 0")
    assert not passed and "salió con el código 3; se esperaba 0" in detail
