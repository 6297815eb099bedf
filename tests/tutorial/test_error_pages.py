"""The error pages Django renders by itself (400, 403, 500) are Spanish pages of Muelle's, like
the 404: an unknown Host gave Django's English «Bad Request (400)» (an attack review)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.views import defaults


def spanish_page(html: str, heading: str) -> None:
    assert '<html lang="es">' in html
    assert heading in html
    assert "Volver al índice del curso" in html


def test_an_unknown_host_gets_the_spanish_400_page(client: Client) -> None:
    response = client.get("/", HTTP_HOST="otro.example.org")
    assert response.status_code == 400
    spanish_page(response.content.decode(), "No podemos atender esta petición")


def test_the_403_and_500_pages_are_spanish_and_need_no_request_context() -> None:
    request = RequestFactory().get("/")
    denied = defaults.permission_denied(request, PermissionDenied())
    assert denied.status_code == 403
    spanish_page(denied.content.decode(), "No tienes permiso para ver esto")
    failed = defaults.server_error(request)
    assert failed.status_code == 500
    spanish_page(failed.content.decode(), "Algo ha fallado en Muelle")
