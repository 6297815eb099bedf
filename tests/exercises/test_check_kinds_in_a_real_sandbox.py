"""Each check kind passes and fails against a real sandbox on the real engine."""

from __future__ import annotations

import os

import pytest

from exercises.checks import run_checks
from sandbox import engine
from tests.exercises.conftest import exercise_from_yaml

pytestmark = pytest.mark.docker


def one_check(check_yaml: str) -> str:
    indented = "\n".join("      " + line for line in check_yaml.strip().splitlines())
    return (
        "- id: prueba\n  titulo: Prueba\n  enunciado: Haz algo.\n  pista: Mira bien.\n"
        "  comprobaciones:\n    - ok: Bien.\n      error: Mal.\n"
        + indented.replace("      ", "      ", 1)
    )


async def outcome(sandbox: engine.Sandbox, check_yaml: str, answer: str = "") -> tuple[bool, str]:
    exercise = exercise_from_yaml(one_check(check_yaml))
    [result] = await run_checks(exercise, sandbox, answer)
    assert result.message == ("Bien." if result.passed else "Mal.")
    return result.passed, result.detail


async def sh(sandbox: engine.Sandbox, command: str) -> None:
    result = await engine.run(sandbox, ["/bin/sh", "-c", command], timeout=10)
    assert result.exit_code == 0, result


async def test_comando_passes_on_the_expected_exit_code_and_fails_otherwise(sandbox) -> None:
    assert await outcome(sandbox, "tipo: comando\ncomando: test -d /home/alumno") == (True, "")
    passed, detail = await outcome(sandbox, "tipo: comando\ncomando: exit 3")
    assert not passed and "código 3" in detail


async def test_comando_output_regex(sandbox) -> None:
    check = "tipo: comando\ncomando: id -un\nsalida: '^alumno$'"
    assert (await outcome(sandbox, check))[0]
    check = "tipo: comando\ncomando: id -un\nsalida: '^root$'"
    passed, detail = await outcome(sandbox, check)
    assert not passed and "salida" in detail


async def test_archivo_exists_and_contains(sandbox) -> None:
    missing_check = "tipo: archivo\nruta: ~/hola.txt"
    passed, detail = await outcome(sandbox, missing_check)
    assert not passed and "/home/alumno/hola.txt" in detail
    assert (await outcome(sandbox, "tipo: archivo\nruta: hola.txt\nexiste: false"))[0]

    await sh(sandbox, "echo 'hola mundo' > ~/hola.txt")
    assert (await outcome(sandbox, missing_check))[0]
    assert (await outcome(sandbox, "tipo: archivo\nruta: ~/hola.txt\ncontiene: hola mundo"))[0]
    assert (await outcome(sandbox, "tipo: archivo\nruta: hola.txt\ncoincide: '^hola'"))[0]
    passed, detail = await outcome(sandbox, "tipo: archivo\nruta: ~/hola.txt\ncontiene: adiós")
    assert not passed and "no contiene lo esperado" in detail
    assert not (await outcome(sandbox, "tipo: archivo\nruta: hola.txt\nexiste: false"))[0]


async def test_archivo_reads_a_huge_file_only_up_to_the_cap(sandbox, settings) -> None:
    settings.SANDBOX_RUN_OUTPUT_CAP = 4096
    await sh(
        sandbox, "head -c 100000 /dev/zero | tr '\\0' 'a' > ~/grande.txt; echo FIN >> ~/grande.txt"
    )
    passed, detail = await outcome(sandbox, "tipo: archivo\nruta: ~/grande.txt\ncontiene: FIN")
    assert not passed and "muy grande" in detail
    assert (await outcome(sandbox, "tipo: archivo\nruta: ~/grande.txt\ncontiene: aaaa"))[0]


async def test_archivo_path_is_an_argument_not_shell_code(sandbox) -> None:
    check = "tipo: archivo\nruta: '~/x; touch /tmp/pwned'"
    assert not (await outcome(sandbox, check))[0]
    result = await engine.run(sandbox, ["test", "-e", "/tmp/pwned"])  # noqa: S108 (in the sandbox)
    assert result.exit_code == 1


async def test_proceso_finds_a_running_process(sandbox) -> None:
    check = "tipo: proceso\nnombre: '^sleep [0-9]+'"
    passed, detail = await outcome(sandbox, check)
    assert not passed and "Ningún proceso" in detail
    # The sandbox's own processes are not the student's: docker-init and the main process (whose
    # command line says `sleep infinity`).
    assert not (await outcome(sandbox, "tipo: proceso\nnombre: 'sleep infinity|docker-init'"))[0]
    await sh(sandbox, "sleep 777 >/dev/null 2>&1 &")
    assert (await outcome(sandbox, check))[0]
    assert not (await outcome(sandbox, "tipo: proceso\nnombre: nginx"))[0]


async def test_proceso_never_matches_the_checker_itself(sandbox) -> None:
    # The checks run inside one `/bin/sh -c <runner> ...` exec whose command line holds every
    # instructor command of the exercise: a regex matching it must not pass.
    assert not (await outcome(sandbox, "tipo: proceso\nnombre: 'muelle-comprobar'"))[0]
    assert not (await outcome(sandbox, "tipo: proceso\nnombre: 'for d in /proc'"))[0]


async def test_several_checks_run_in_one_exec_each_with_its_own_result(sandbox) -> None:
    exercise = exercise_from_yaml(
        """
- id: varias
  titulo: Varias
  enunciado: Varias comprobaciones.
  pista: Mira bien.
  comprobaciones:
    - {tipo: comando, comando: "echo uno; exit 4", codigo: 4, salida: "^uno$", ok: a, error: A}
    - {tipo: archivo, ruta: /etc/hostname, ok: b, error: B}
    - {tipo: archivo, ruta: /etc/no-existe, contiene: x, ok: c, error: C}
    - {tipo: proceso, nombre: '^/bin/bash -l$', ok: d, error: D}  # the first terminal's shell
    - {tipo: respuesta, comando: "printf 'Hola\\x1e:0:0\\x1f Mundo'", ok: e, error: E}
"""
    )
    results = await run_checks(exercise, sandbox, "hola\x1e:0:0\x1f   MUNDO")
    assert [r.passed for r in results] == [True, True, False, True, True]


async def test_a_stuck_step_does_not_hide_the_others(sandbox, settings) -> None:
    settings.SANDBOX_RUN_TIMEOUT = 1.0
    exercise = exercise_from_yaml(
        """
- id: atascada
  titulo: Atascada
  enunciado: Una se atasca.
  pista: Mira bien.
  comprobaciones:
    - {tipo: comando, comando: "sleep 30", ok: a, error: A}
    - {tipo: comando, comando: "true", ok: b, error: B}
"""
    )
    stuck, fine = await run_checks(exercise, sandbox)
    assert not stuck.passed and "tardó más de 1 segundos" in stuck.detail
    assert fine.passed


async def test_respuesta_compared_with_a_command_run_in_the_sandbox(sandbox) -> None:
    check = "tipo: respuesta\ncomando: uname -r"
    # The sandbox shares the host's kernel: the host's release is the right answer.
    assert (await outcome(sandbox, check, "  " + os.uname().release.upper() + " \n"))[0]
    passed, detail = await outcome(sandbox, check, "5.0.0-no-es-este")
    assert not passed and "no es la esperada" in detail
    passed, detail = await outcome(sandbox, check, "   ")
    assert not passed and "No has escrito" in detail


async def test_respuesta_exact_ignores_case_and_whitespace(sandbox) -> None:
    check = "tipo: respuesta\nesperado: 'Docker   Engine'"
    assert (await outcome(sandbox, check, " docker engine "))[0]
    assert not (await outcome(sandbox, check, "docker"))[0]


async def test_respuesta_regex_must_match_the_whole_answer(sandbox) -> None:
    check = "tipo: respuesta\npatron: 'no\\.?'"
    assert (await outcome(sandbox, check, "No."))[0]
    assert not (await outcome(sandbox, check, "no lo sé"))[0]


async def test_a_check_that_hangs_is_stopped(sandbox, settings) -> None:
    settings.SANDBOX_RUN_TIMEOUT = 1.0
    passed, detail = await outcome(sandbox, "tipo: comando\ncomando: sleep 30")
    assert not passed and "tardó más de 1 segundos" in detail


async def test_a_flooding_step_does_not_hide_the_others(sandbox, settings) -> None:
    settings.SANDBOX_RUN_OUTPUT_CAP = 4096
    exercise = exercise_from_yaml(
        """
- id: inundada
  titulo: Inundada
  enunciado: Una escribe demasiado.
  pista: Mira bien.
  comprobaciones:
    - {tipo: comando, comando: "yes | head -c 200000", ok: a, error: A}
    - {tipo: comando, comando: "true", ok: b, error: B}
"""
    )
    flood, fine = await run_checks(exercise, sandbox)
    assert not flood.passed and "demasiado larga" in flood.detail
    assert fine.passed
