"""The real course (content/lessons) through its real URLs: index, the three lessons, assets."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

LESSONS = [
    ("que-es-docker", "¿Qué es Docker?"),
    ("tu-primer-contenedor", "Tu primer contenedor"),
    ("imagenes-y-capas", "Imágenes y capas"),
    ("el-ciclo-de-vida", "El ciclo de vida de un contenedor"),
]


# Lesson pages show the exercises block, which reads the student's progress from the database.
pytestmark = pytest.mark.django_db


def _text(html: bytes) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html.decode()))


def test_the_index_lists_the_lessons_in_order_with_summary_level_and_duration(
    client: Client,
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f'href="/lecciones/{slug}/"') for slug, _title in LESSONS]
    assert positions == sorted(positions)
    text = _text(response.content)
    for _slug, title in LESSONS:
        assert title in text
    assert "Qué es Docker, en qué se diferencia de una máquina virtual" in text
    assert "Nivel: Básico" in " ".join(text.split())
    assert "Duración: 10 min" in " ".join(text.split())
    assert '<html lang="es">' in html


def test_lesson_one_reads_like_the_original_author_wrote_it(client: Client) -> None:
    response = client.get(reverse("lessons:detail", args=["que-es-docker"]))
    assert response.status_code == 200
    text = _text(response.content)
    for phrase in (
        "¿Por dónde empiezo?",
        "¿Qué diferencia tiene con una máquina virtual?",
        "🐣",
        "🐳",
        "👍",
        "🏋️",
        "Tiene mejor gestión de las instancias levantadas",
    ):
        assert phrase in text
    assert "√" not in text and "¬ø" not in text and "\uf8ff" not in text


def test_each_lesson_page_has_body_toc_and_neighbours(client: Client) -> None:
    # The course keeps growing: neighbours come from the whole course's order, not this list.
    from lessons.catalog import get_catalog

    course = [lesson.slug for lesson in get_catalog()]
    for slug, title in LESSONS:
        index = course.index(slug)
        response = client.get(f"/lecciones/{slug}/")
        assert response.status_code == 200
        html = response.content.decode()
        assert f"<title>{title} · Muelle</title>" in unescape(html)
        assert 'id="lesson-content"' in html
        assert '<nav class="lesson-toc"' in html
        for anchor in re.findall(r'<nav class="lesson-toc".*?</nav>', html, re.DOTALL)[0].split(
            'href="#'
        )[1:]:
            assert f'id="{anchor.split(chr(34))[0]}"' in html
        if index > 0:
            previous = course[index - 1]
            assert (
                f'rel="prev" href="/lecciones/{previous}/" hx-get="/lecciones/{previous}/"' in html
            )
        else:
            assert 'rel="prev"' not in html
        if index + 1 < len(course):
            following = course[index + 1]
            assert (
                f'rel="next" href="/lecciones/{following}/" hx-get="/lecciones/{following}/"'
                in html
            )
        else:
            assert 'rel="next"' not in html


def test_lessons_two_and_three_have_runnable_blocks(client: Client) -> None:
    for slug in ("tu-primer-contenedor", "imagenes-y-capas"):
        html = client.get(f"/lecciones/{slug}/").content.decode()
        assert html.count('data-runnable="true"') >= 2
        assert (
            len(
                re.findall(
                    r'class="code-run" data-action="run" aria-describedby="[^"]+">Ejecutar<', html
                )
            )
            >= 2
        )
    text = _text(client.get("/lecciones/tu-primer-contenedor/").content)
    for command in ("echo", "uname -r", "hostname", "ps aux"):
        assert command in text


def test_the_lesson_page_includes_the_terminal_panel_outside_the_swapped_region(
    client: Client,
) -> None:
    html = client.get("/lecciones/tu-primer-contenedor/").content.decode()
    article_end = html.index("</article>")
    panel = html.index('class="terminal-panel"')
    assert panel > article_end
    assert html.index('id="lesson-content"') < article_end


def test_internal_markdown_links_point_to_lesson_urls(client: Client) -> None:
    html = client.get("/lecciones/tu-primer-contenedor/").content.decode()
    assert '<a href="/lecciones/imagenes-y-capas/">siguiente lección</a>' in html
    html = client.get("/lecciones/imagenes-y-capas/").content.decode()
    assert '<a href="/lecciones/que-es-docker/">¿Qué es Docker?</a>' in html


def test_a_folder_lesson_serves_its_image(client: Client) -> None:
    html = client.get("/lecciones/imagenes-y-capas/").content.decode()
    src = re.search(r'<img [^>]*src="([^"]+)"', html).group(1)
    assert src == "/lecciones/imagenes-y-capas/recursos/capas.svg"
    response = client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"<svg" in response.content


def test_lesson_one_shows_its_own_diagrams_not_the_seed_s_remote_picture(client: Client) -> None:
    # The seed hot-linked its picture from the author's site; offline it was a broken image.
    html = client.get("/lecciones/que-es-docker/").content.decode()
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert sources == [
        "/lecciones/que-es-docker/recursos/maquina-virtual-y-contenedor.svg",
        "/lecciones/que-es-docker/recursos/piezas-de-docker.svg",
    ]
    for src in sources:
        response = client.get(src)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        assert b'role="img"' in response.content and b"<title" in response.content
    assert "josedomingo.org/pledin/assets" not in html


def test_the_page_has_landmarks_and_a_skip_link(client: Client) -> None:
    html = client.get("/lecciones/que-es-docker/").content.decode()
    assert '<a class="skip-link" href="#contenido">Saltar al contenido</a>' in html
    assert '<main id="contenido"' in html
    assert "<header" in html and "<footer" in html
    assert '<nav class="lesson-pager" aria-label=' in html
