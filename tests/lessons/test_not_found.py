"""Unknown or malformed slugs and asset paths answer the Spanish 404 page, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize(
    "url",
    [
        "/lecciones/no-existe/",
        "/lecciones/QUE-ES-DOCKER/",
        "/lecciones/que_es_docker/",
        "/lecciones/que-es-docker.md/",
        "/lecciones/..%2F..%2Fetc%2Fpasswd/",
        "/lecciones/%00/",
        "/lecciones/" + "a" * 200 + "/",
        "/lecciones/qué-es-docker/",
        "/lecciones/que-es-docker/extra/",
        "/lecciones/",
        "/no-hay-nada-aqui/",
    ],
)
def test_it_answers_404_in_spanish(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    html = response.content.decode()
    assert "No encontramos esa página" in html
    assert '<html lang="es">' in html


@pytest.mark.parametrize(
    "path",
    [
        "index.md",
        "../01-que-es-docker/index.md",
        "..%2F01-que-es-docker%2Findex.md",
        "%2e%2e/01-que-es-docker/index.md",
        "../01-que-es-docker/piezas-de-docker.svg",
        ".oculto.png",
        "no-existe.png",
        "capas.svg/../index.md",
    ],
)
def test_it_refuses_assets_that_are_not_images_of_that_lesson(client: Client, path: str) -> None:
    response = client.get(f"/lecciones/imagenes-y-capas/recursos/{path}")
    assert response.status_code == 404


def test_a_single_file_lesson_has_no_assets(client: Client, lessons_dir, write_lesson) -> None:
    # Even with an image next to it, a one-file lesson serves nothing: its folder is shared.
    write_lesson("01-suelta.md", slug="suelta")
    (lessons_dir / "capas.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert client.get("/lecciones/suelta/").status_code == 200
    assert client.get("/lecciones/suelta/recursos/capas.svg").status_code == 404


def test_only_get_is_allowed(client: Client) -> None:
    assert client.post("/lecciones/que-es-docker/").status_code in (403, 405)
