"""htmx requests for #lesson-content get a fragment with its <title>; the rest get the page."""

from __future__ import annotations

import pytest
from django.test import Client

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lesson-content"}


# Lesson pages show the exercises block, which reads the student's progress from the database.
pytestmark = pytest.mark.django_db


def test_an_htmx_navigation_gets_the_content_partial_with_its_title(client: Client) -> None:
    response = client.get("/lecciones/tu-primer-contenedor/", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith("<title>Tu primer contenedor · Muelle</title>")
    assert '<article id="lesson-content"' in html
    assert html.rstrip().endswith("</article>")
    assert "<html" not in html and "terminal-panel" not in html and "<main" not in html


def test_the_full_page_keeps_the_title_in_the_head_only(client: Client) -> None:
    html = client.get("/lecciones/tu-primer-contenedor/").content.decode()
    assert html.count("<title>") == 1
    assert html.index("<title>") < html.index("</head>")


def test_a_history_restore_gets_the_whole_page(client: Client) -> None:
    response = client.get(
        "/lecciones/tu-primer-contenedor/", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    html = response.content.decode()
    assert "<html" in html and "hx-history-elt" in html and "terminal-panel" in html


def test_an_htmx_request_for_another_target_gets_the_whole_page(client: Client) -> None:
    response = client.get(
        "/lecciones/tu-primer-contenedor/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="otra-cosa"
    )
    assert "<html" in response.content.decode()


def test_responses_vary_on_the_htmx_headers(client: Client) -> None:
    response = client.get("/lecciones/que-es-docker/")
    assert "HX-Request" in response["Vary"] and "HX-Target" in response["Vary"]


def test_every_htmx_link_also_has_a_real_href(client: Client) -> None:
    import re

    html = client.get("/lecciones/tu-primer-contenedor/").content.decode()
    links = re.findall(r"<a [^>]*hx-get=[^>]*>", html)
    assert len(links) >= 5  # previous, next and the course list
    for link in links:
        href = re.search(r'href="([^"]+)"', link).group(1)
        assert re.search(r'hx-get="([^"]+)"', link).group(1) == href
    article = re.search(r"<article [^>]*>", html).group(0)
    assert 'hx-target="#lesson-content"' in article
    assert 'hx-push-url="true"' in article
    assert 'hx-swap="outerHTML' in article
