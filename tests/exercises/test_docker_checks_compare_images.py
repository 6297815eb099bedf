"""The `imagen` keys that replaced `docker image inspect` / `docker history` commands, against a
real sandbox, its gateway and the real engine: misma_que, distinta_de, healthcheck, capa,
menos_de_mb and padre. And the list of images a failing check shows: one engine call shared by
students checking at once, each seeing only their own tags and the course's."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from sandbox import engine, student_docker
from sandbox.terminals import owner_key
from tests.exercises.docker_check_outcomes import failure
from tests.exercises.test_docker_state_checks import outcome, sh

pytestmark = pytest.mark.docker

EVIL = "<script>alert(1)</script>\u202edlrow\x1b[31m"


async def test_misma_que_and_distinta_de_compare_image_ids(sandbox) -> None:
    same = "tipo: imagen\nnombre: saludo:v1\nmisma_que: muelle/hola"
    detail = await failure(sandbox, same)
    assert detail.startswith("No hay ninguna imagen «saludo:v1».")

    await sh(sandbox, "docker tag muelle/hola saludo:v1 && docker tag muelle/busybox otra:1")
    assert await outcome(sandbox, same) == (True, "")
    detail = await failure(sandbox, "tipo: imagen\nnombre: saludo:v1\nmisma_que: otra:1")
    assert detail.startswith("La imagen «saludo:v1»: es otra imagen que «otra:1» (ID «")
    detail = await failure(sandbox, "tipo: imagen\nnombre: saludo:v1\ndistinta_de: muelle/hola")
    assert "es la misma imagen que «muelle/hola» (las dos tienen el ID «" in detail
    assert (await outcome(sandbox, "tipo: imagen\nnombre: saludo:v1\ndistinta_de: otra:1"))[0]
    detail = await failure(sandbox, "tipo: imagen\nnombre: saludo:v1\ndistinta_de: vieja:1.0")
    assert "no se puede comparar con «vieja:1.0»: no existe" in detail


async def test_healthcheck_size_and_parent_of_a_built_image(sandbox) -> None:
    dockerfile = (
        "FROM muelle/busybox\\n"
        "HEALTHCHECK --interval=5s CMD wget -qO /dev/null http://localhost/ || exit 1\\n"
    )
    await sh(sandbox, f'mkdir -p ~/v && printf "{dockerfile}" > ~/v/Dockerfile')
    await sh(sandbox, "cd ~/v && docker build -q -t vigilado:1.0 . >/dev/null")
    good = "tipo: imagen\nnombre: vigilado:1.0\nhealthcheck: wget\nmenos_de_mb: 10\npadre: true"
    assert await outcome(sandbox, good) == (True, "")
    # The course images are imported, not built here: no parent, as with a pulled image.
    assert (await outcome(sandbox, "tipo: imagen\nnombre: muelle/busybox\npadre: false"))[0]
    refused = [  # (image, key, what the failure must say)
        ("vigilado:1.0", "healthcheck: curl", "su HEALTHCHECK es «["),
        ("vigilado:1.0", "healthcheck: curl", "wget -qO /dev/null"),
        ("vigilado:1.0", "healthcheck: curl", "que no contiene «curl»"),
        ("muelle/busybox", "healthcheck: x", "La imagen «muelle/busybox»: no tiene HEALTHCHECK."),
        ("vigilado:1.0", "menos_de_mb: 1", "ocupa 2.0 MB; debe ocupar menos de 1 MB"),
        ("vigilado:1.0", "padre: false", "tiene una imagen padre, la de su construcción"),
        ("muelle/busybox", "padre: true", "no tiene imagen padre (se bajó de un registro)"),
    ]
    for image, key, said in refused:
        detail = await failure(sandbox, f"tipo: imagen\nnombre: {image}\n{key}")
        assert said in detail, (image, key, detail)


async def test_capa_reads_the_history_and_shows_a_hostile_layer_safely(sandbox) -> None:
    result = await engine.run(
        sandbox,
        [
            "docker",
            "run",
            "--name",
            "cocina",
            "muelle/busybox",
            "sh",
            "-c",
            "echo '" + EVIL + "' > /receta.txt # " + "z" * 300,
        ],
        timeout=60,
    )
    assert result.exit_code == 0, result
    await sh(sandbox, "docker commit cocina mi-busybox:receta >/dev/null")
    assert await outcome(sandbox, "tipo: imagen\nnombre: mi-busybox:receta\ncapa: receta.txt")
    detail = await failure(sandbox, "tipo: imagen\nnombre: mi-busybox:receta\ncapa: pan")
    assert "no tiene ninguna capa hecha con «pan»; la de arriba se hizo con «" in detail
    assert "<script>alert(1)</script>" in detail
    assert "\u202e" not in detail and "\x1b" not in detail and "z" * 100 not in detail


async def test_a_failing_check_lists_only_the_students_images_from_one_shared_engine_call(
    sandbox, monkeypatch
) -> None:
    other = await engine.acquire(owner_key("test:" + secrets.token_urlsafe(12)))
    await sh(other, "docker tag muelle/hola secreto-de-otro:1")
    await sh(sandbox, "docker tag muelle/hola mia:1")
    detail = await failure(sandbox, "tipo: imagen\nnombre: tarjeta:1.0")
    assert detail.startswith("No hay ninguna imagen «tarjeta:1.0». Imágenes que ves:")
    assert "«mia:1»" in detail and "secreto-de-otro" not in detail
    assert "muelle/hola" in detail  # a course image: everyone sees it

    calls = 0
    real = student_docker._list_engine_images

    async def counted(address: str) -> list:
        nonlocal calls
        calls += 1
        return await real(address)

    monkeypatch.setattr(student_docker, "_list_engine_images", counted)
    views = [await student_docker.for_owner(box.owner) for box in (sandbox, other) * 5]
    seen = await asyncio.gather(*(view.images() for view in views))
    assert calls == 1
    mine = {t for image in seen[0] for t in image["RepoTags"]}
    theirs = {t for image in seen[1] for t in image["RepoTags"]}
    assert "mia:1" in mine and "secreto-de-otro:1" not in mine
    assert "secreto-de-otro:1" in theirs and "mia:1" not in theirs
    # Once answered, nothing is kept: the next look asks the engine again and sees what changed.
    await sh(sandbox, "docker tag muelle/hola nueva:1")
    fresh = await student_docker.for_owner(sandbox.owner)
    assert "nueva:1" in {t for image in await fresh.images() for t in image["RepoTags"]}
    assert calls == 2
