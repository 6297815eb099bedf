"""A folder lesson's images are served; nothing else in or outside the folder ever is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

from .conftest import WriteLesson

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00"
    b"IEND\xaeB`\x82"
)


@pytest.fixture
def folder_lesson(write_lesson: WriteLesson, lessons_dir: Path) -> Path:
    write_lesson(
        "01-con-imagen/index.md",
        '## Diagrama\n\n![Un diagrama](img/diagrama.png)\n\n<img src="img/diagrama.png" alt="x">\n',
        slug="con-imagen",
    )
    folder = lessons_dir / "01-con-imagen"
    (folder / "img").mkdir()
    (folder / "img" / "diagrama.png").write_bytes(PNG)
    (folder / "notas.txt").write_text("privado")
    (folder / ".secreto.png").write_bytes(PNG)
    outside = lessons_dir.parent / "fuera.png"
    outside.write_bytes(PNG)
    os.symlink(outside, folder / "enlace.png")
    return folder


def test_it_serves_an_image_of_the_lesson(client: Client, folder_lesson: Path) -> None:
    response = client.get("/lecciones/con-imagen/recursos/img/diagrama.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == PNG


def test_markdown_and_raw_html_images_point_to_the_asset_url(
    client: Client, folder_lesson: Path
) -> None:
    html = client.get("/lecciones/con-imagen/").content.decode()
    assert html.count('src="/lecciones/con-imagen/recursos/img/diagrama.png"') == 2


@pytest.mark.parametrize(
    "path",
    ["index.md", "notas.txt", ".secreto.png", "enlace.png", "img/../index.md", "img/nada.png"],
)
def test_it_refuses_everything_else(client: Client, folder_lesson: Path, path: str) -> None:
    assert client.get(f"/lecciones/con-imagen/recursos/{path}").status_code == 404
