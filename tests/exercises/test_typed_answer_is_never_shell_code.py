"""A typed answer is compared in Python: shell syntax in it runs nothing in the sandbox."""

from __future__ import annotations

import pytest

from sandbox import engine
from sandbox.terminals import owner_key
from tests.exercises.conftest import HTMX, check_url

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

ATTACKS = [
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "; touch /tmp/pwned",
    "x' ; touch /tmp/pwned ; echo '",
    '"; touch /tmp/pwned; "',
    "&& touch /tmp/pwned",
    "; rm -rf ~",
    "| rm -rf ~",
]


async def test_shell_injection_through_the_answer_is_harmless(
    async_client, lessons_dir, remove_sandboxes
) -> None:
    await async_client.post(check_url("practica", "tu-kernel"), {"respuesta": "?"}, **HTMX)
    session = await async_client.asession()
    sandbox = await engine.get(owner_key(session.session_key))
    assert sandbox is not None
    canary = await engine.run(sandbox, ["/bin/sh", "-c", "echo vivo > ~/canario.txt"])
    assert canary.exit_code == 0

    for attack in ATTACKS:
        response = await async_client.post(
            check_url("practica", "tu-kernel"), {"respuesta": attack}, **HTMX
        )
        html = response.content.decode()
        assert 'data-result="fallido"' in html, attack  # just a wrong answer
        assert "Esa no es la versión del kernel que ve tu contenedor." in html

    pwned = await engine.run(sandbox, ["test", "-e", "/tmp/pwned"])  # noqa: S108 (in the sandbox)
    assert pwned.exit_code == 1, "an answer ran as shell code"
    canary = await engine.run(sandbox, ["cat", "/home/alumno/canario.txt"])
    assert canary.output == b"vivo\n", "an answer ran as shell code"
