"""Three more checks that replaced `docker …` commands in the course, against a real sandbox, its
gateway and the real engine: the `registro` kind (the course registry has the student's
repository and tag, as `docker search` shows it), `volumen` with `libre` (no container uses it
any more) and `http` with `coincide` (a regular expression in the page)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.exercises.conftest import new_sandbox
from tests.exercises.docker_check_outcomes import failure
from tests.exercises.test_docker_state_checks import WAIT_FOR_8080, outcome, sh

pytestmark = pytest.mark.docker


# The student's gateway reads REGISTRY_URL when it opens, with the sandbox: each fixture below
# sets the URL first and then opens the sandbox itself, so the order does not rest on pytest's
# (which it does not promise for fixtures of the same scope).
@pytest.fixture
async def sandbox_with_registry(course_registry: None, remove_sandboxes: None) -> Any:
    return await new_sandbox()


@pytest.fixture
async def sandbox_registry_down(settings: Any, remove_sandboxes: None) -> AsyncIterator[Any]:
    """REGISTRY_URL at a loopback port that refuses connections: bound for the whole test but
    never listening, so no server another test starts on a "free" port can take it; and a
    registry of the machine's own (scripts/serve's, on the default port) is not the one asked."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        settings.REGISTRY_URL = f"http://127.0.0.1:{s.getsockname()[1]}"
        yield await new_sandbox()


async def test_registro_sees_what_the_student_pushed(sandbox_with_registry) -> None:
    sandbox = sandbox_with_registry
    saludo = "tipo: registro\nnombre: registro.muelle/saludo\netiqueta: '1'"
    detail = await failure(sandbox, saludo)
    assert detail == (
        "El registro del curso no tiene «registro.muelle/saludo». Lo que has subido y se "
        "parece: ninguno."
    )
    await sh(sandbox, "docker tag muelle/hola registro.muelle/saludo:1 >/dev/null")
    assert not (await outcome(sandbox, saludo))[0]  # a name is not a push

    await sh(sandbox, "docker push registro.muelle/saludo:1 >/dev/null 2>&1")
    await sh(sandbox, "docker tag muelle/hola registro.muelle/saludo-largo:v2 >/dev/null")
    await sh(sandbox, "docker push registro.muelle/saludo-largo:v2 >/dev/null 2>&1")
    assert await outcome(sandbox, saludo) == (True, "")
    assert (await outcome(sandbox, "tipo: registro\nnombre: registro.muelle/saludo"))[0]
    detail = await failure(sandbox, "tipo: registro\nnombre: registro.muelle/saludo\netiqueta: v2")
    assert detail == (
        "El registro del curso tiene «registro.muelle/saludo», pero sin la etiqueta «v2»; "
        "tiene: «1»."
    )
    detail = await failure(sandbox, "tipo: registro\nnombre: registro.muelle/salud")
    assert "Lo que has subido y se parece: «registro.muelle/saludo»" in detail


async def test_registro_down_says_so(sandbox_registry_down) -> None:
    detail = await failure(sandbox_registry_down, "tipo: registro\nnombre: registro.muelle/saludo")
    assert detail.startswith("No se pudo consultar el registro del curso")


async def test_volumen_libre_once_no_container_uses_it(sandbox) -> None:
    free = "tipo: volumen\nnombre: paginas\nlibre: true"
    await sh(sandbox, "docker run -d -m 16m --name web -v paginas:/datos muelle/busybox sleep 600")
    detail = await failure(sandbox, free)
    assert detail == "El volumen «paginas» lo usan todavía: «web»."
    assert (await outcome(sandbox, "tipo: volumen\nnombre: paginas\nlibre: false"))[0]
    await sh(sandbox, "docker rm -f web >/dev/null")
    assert await outcome(sandbox, free) == (True, "")
    detail = await failure(sandbox, "tipo: volumen\nnombre: paginas\nlibre: false")
    assert detail == "Ningún contenedor usa el volumen «paginas»."
    detail = await failure(sandbox, "tipo: volumen\nnombre: otro\nlibre: true")
    assert detail.startswith("No hay ningún volumen llamado «otro».")


async def test_http_coincide_and_a_hostile_page(sandbox) -> None:
    page = "<b>Visitas</b>: 7\u202e\x1b[31m" + "z" * 300
    await sh(
        sandbox,
        f"mkdir -p ~/web && printf '%s' '{page}' > ~/web/index.html && cd ~/web && "
        "python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 &",
    )
    await sh(sandbox, "bash -c " + repr(WAIT_FOR_8080))
    assert await outcome(sandbox, "tipo: http\npuerto: 8080\ncoincide: ':\\s*[5-9]'") == (True, "")
    detail = await failure(sandbox, "tipo: http\npuerto: 8080\ncoincide: ':\\s*1[0-9]'")
    assert detail.startswith(
        "http://localhost:8080/ responde, pero la página no es como se espera. Empieza así: "
        "«<b>Visitas</b>: 7"
    )
    assert "\u202e" not in detail and "\x1b" not in detail and "z" * 100 not in detail
