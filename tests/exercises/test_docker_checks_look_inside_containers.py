"""The `contenedor` keys that replaced `docker inspect` / `docker exec` commands, against a real
sandbox, its gateway and the real engine: estado creado, reinicios, archivo / contiene /
sin_archivo (read with the archive endpoint, GET), proceso (docker top, GET), sin_red and
montaje ending in :ro. What the student controls (file content, process lines) is shown escaped
and cut; nothing is changed by looking."""

from __future__ import annotations

import pytest

from sandbox.student_docker import snapshot
from tests.exercises.docker_check_outcomes import failure, start_api_on_backend
from tests.exercises.test_docker_state_checks import outcome, sh

pytestmark = pytest.mark.docker

EVIL = "<script>alert(1)</script>\u202edlrow\x1b[31m rojo"


async def test_estado_creado_and_reinicios(sandbox) -> None:
    await sh(sandbox, "docker create -m 16m --name despensa muelle/busybox sleep 600 >/dev/null")
    creado = "tipo: contenedor\nnombre: despensa\nestado: creado"
    assert await outcome(sandbox, creado) == (True, "")
    # A created container is not running: `parado` (not running) holds too, `en-marcha` not.
    assert (await outcome(sandbox, "tipo: contenedor\nnombre: despensa\nestado: parado"))[0]

    await sh(sandbox, "docker start despensa >/dev/null")
    detail = await failure(sandbox, creado)
    assert detail == (
        "El contenedor «despensa» está «running»; se esperaba creado sin arrancar (created)."
    )

    await sh(
        sandbox,
        "docker run -d -m 16m --name terco --restart on-failure:2 muelle/busybox "
        "sh -c 'exit 1' >/dev/null",
    )
    await sh(
        sandbox,
        "for i in $(seq 100); do [ \"$(docker inspect -f '{{.RestartCount}} {{.State.Running}}'"
        ' terco)" = "2 false" ] && exit 0; sleep 0.2; done; exit 1',
    )
    assert await outcome(sandbox, "tipo: contenedor\nnombre: terco\nestado: parado\nreinicios: 2")
    detail = await failure(sandbox, "tipo: contenedor\nnombre: terco\nestado: parado\nreinicios: 3")
    assert detail == "El contenedor «terco» Docker lo ha reiniciado 2 veces; se esperaban 3."


async def test_archivo_contiene_and_sin_archivo_read_without_changing_anything(sandbox) -> None:
    await sh(sandbox, "docker run -d -m 32m --name caja muelle/busybox sleep 600 >/dev/null")
    has_list = "tipo: contenedor\nnombre: caja\narchivo: /tmp/lista.txt\ncontiene: arroz"
    detail = await failure(sandbox, has_list)
    assert detail == "El contenedor «caja» no tiene «/tmp/lista.txt»."

    await sh(sandbox, "docker exec caja sh -c 'echo lentejas > /tmp/lista.txt'")
    before = await snapshot(sandbox.owner)
    detail = await failure(sandbox, has_list)
    assert detail == (
        "El contenedor «caja» tiene «/tmp/lista.txt», pero no contiene «arroz»; empieza así: "
        "«lentejas»."
    )
    await sh(sandbox, "docker exec caja sh -c 'echo arroz >> /tmp/lista.txt'")
    assert await outcome(sandbox, has_list) == (True, "")
    # A folder exists; it is not a file to read text from.
    assert (await outcome(sandbox, "tipo: contenedor\nnombre: caja\narchivo: /tmp"))[0]
    detail = await failure(sandbox, "tipo: contenedor\nnombre: caja\narchivo: /tmp\ncontiene: x")
    assert "tiene «/tmp», pero no es un archivo" in detail

    absent = "tipo: contenedor\nnombre: caja\nsin_archivo: /tmp/claves.txt"
    assert await outcome(sandbox, absent) == (True, "")
    await sh(sandbox, "docker exec caja sh -c 'echo 1234 > /tmp/claves.txt'")
    detail = await failure(sandbox, absent)
    assert detail == "El contenedor «caja» tiene «/tmp/claves.txt», y no debe tenerlo."
    # Files of a stopped container are read too (the archive endpoint needs no running process).
    await sh(sandbox, "docker stop -t 0 caja >/dev/null")
    stopped = has_list + "\nestado: parado"
    assert await outcome(sandbox, stopped) == (True, "")
    assert await snapshot(sandbox.owner) == {
        **before,
        "containers": [c.replace(" running", " exited") for c in before["containers"]],
    }


async def test_hostile_file_content_is_escaped_cut_and_read_only_up_to_the_cap(
    sandbox, settings
) -> None:
    settings.SANDBOX_RUN_OUTPUT_CAP = 4096
    await sh(sandbox, "docker run -d -m 32m --name hostil muelle/busybox sleep 600 >/dev/null")
    # HTML, a bidi override, ANSI colours, newlines, then far more than the cap (1 MB).
    await sh(
        sandbox,
        "docker exec hostil sh -c \"printf '%s\\n\\n' '"
        + EVIL.replace("\x1b", "'\"'\"'$(printf '\\033')'\"'\"'")
        + "' > /tmp/pagina.html && head -c 1000000 /dev/zero | tr '\\0' y >> /tmp/pagina.html"
        ' && echo FIN >> /tmp/pagina.html"',
    )
    size = await sh(sandbox, "docker exec hostil wc -c /tmp/pagina.html")
    assert int(size.split()[0]) > 1_000_000
    detail = await failure(
        sandbox, "tipo: contenedor\nnombre: hostil\narchivo: /tmp/pagina.html\ncontiene: FIN"
    )
    assert "empieza así: «<script>alert(1)</script>" in detail
    assert "\u202e" not in detail and "\x1b" not in detail and "\n" not in detail
    assert "y" * 100 not in detail and len(detail) < 400
    assert detail.endswith("(solo se leyó el principio: el archivo es muy grande).")


async def test_proceso_and_sin_red(sandbox) -> None:
    await start_api_on_backend(sandbox, 8000)
    assert await outcome(sandbox, "tipo: contenedor\nnombre: api\nproceso: 'httpd .*-p 8000'")
    detail = await failure(sandbox, "tipo: contenedor\nnombre: api\nproceso: 'nginx'")
    assert detail.startswith("El contenedor «api» ningún proceso suyo encaja con «nginx»; tiene:")
    assert "«httpd -f -p 8000 -h /tmp»" in detail

    # A process line the student wrote is shown cleaned and cut.
    await sh(
        sandbox,
        "docker run -d -m 32m --name raro muelle/busybox sh -c "
        "'sleep 600; echo \"<b>hola</b>\u202e" + "x" * 200 + "\"' >/dev/null",
    )
    detail = await failure(sandbox, "tipo: contenedor\nnombre: raro\nproceso: httpd")
    assert "<b>hola</b>" in detail and "\u202e" not in detail and "x" * 100 not in detail

    # Stopped: no processes to look at, and the state says why.
    await sh(sandbox, "docker create -m 16m --name quieto muelle/busybox httpd -f >/dev/null")
    detail = await failure(sandbox, "tipo: contenedor\nnombre: quieto\nproceso: httpd")
    assert "existe pero nunca se ha arrancado" in detail

    away = "tipo: contenedor\nnombre: api\nsin_red: backend"
    detail = await failure(sandbox, away)
    assert detail == (
        "El contenedor «api» está conectado a la red «backend», y no debe estarlo "
        "(está en: «backend»)."
    )
    assert (await outcome(sandbox, "tipo: contenedor\nnombre: api\nsin_red: frontend"))[0]


async def test_montaje_read_only(sandbox) -> None:
    await sh(sandbox, "mkdir -p ~/proyecto && docker volume create notas >/dev/null")
    await sh(
        sandbox,
        "docker run -d -m 16m --name ro -v /home/alumno/proyecto:/sitio:ro -v notas:/datos "
        "muelle/busybox sleep 600 >/dev/null",
    )
    assert await outcome(sandbox, "tipo: contenedor\nnombre: ro\nmontaje: 'bind:/sitio:ro'")
    assert await outcome(sandbox, "tipo: contenedor\nnombre: ro\nmontaje: 'notas:/datos:rw'")
    detail = await failure(sandbox, "tipo: contenedor\nnombre: ro\nmontaje: '/datos:ro'")
    assert detail == (
        "El contenedor «ro» monta «/datos» en lectura y escritura; se esperaba solo lectura (:ro)."
    )
    detail = await failure(sandbox, "tipo: contenedor\nnombre: ro\nmontaje: '/sitio:rw'")
    assert "monta «/sitio» en solo lectura" in detail
