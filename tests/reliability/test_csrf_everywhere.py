"""CSRF holds on every URL of the app: a POST without a token is refused before any view runs."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# A value for each converter, so every pattern becomes a URL that resolves.
SAMPLES = {"int": "1", "slug": "que-es-docker", "str": "x", "path": "x/y.txt", "uuid": "0" * 32}


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    found: list[str] = []
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _routes(entry, pattern)
        elif isinstance(entry, URLPattern):
            found.append(pattern)
    return found


def _fill(route: str) -> str | None:
    """'lecciones/<lesson_slug:slug>/' -> '/lecciones/que-es-docker/'; None for regex routes."""
    if route.startswith("^"):
        return None

    def sample(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        return SAMPLES.get(converter, "que-es-docker")

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", sample, route)


def every_url() -> list[str]:
    urls = {_fill(route) for route in _routes(get_resolver())}
    return sorted(url for url in urls if url is not None)


def test_every_url_refuses_a_post_without_a_csrf_token():
    """Pass: each of the app's URL patterns (admin included, filled with sample values) answers a
    token-less POST from a client that enforces CSRF with 403 — no view is exempt."""
    client = Client(enforce_csrf_checks=True)
    urls = every_url()
    assert len(urls) > 10  # the enumeration found the app
    accepted = {}
    for url in urls:
        status = client.post(url, {"x": "1"}).status_code
        if status != 403:
            accepted[url] = status
    assert accepted == {}, f"POST without CSRF token not refused: {accepted}"


def test_the_exercise_and_account_forms_are_among_the_urls_checked():
    """Pass: the POST views that exist (login, signup, logout, exercise check, reset, reveal) are
    in the enumerated list, so the test above covers them."""
    urls = every_url()
    for name, kwargs in [
        ("exercises:login", {}),
        ("exercises:signup", {}),
        ("exercises:logout", {}),
        ("exercises:reset", {"lesson_slug": "que-es-docker"}),
        ("exercises:check", {"lesson_slug": "que-es-docker", "exercise_id": "que-es-docker"}),
        ("exercises:reveal", {"lesson_slug": "que-es-docker", "exercise_id": "que-es-docker"}),
    ]:
        assert reverse(name, kwargs=kwargs) in urls, name


def test_with_its_token_the_login_form_is_not_refused_for_csrf():
    """Pass: the same client with the cookie and token from the login page gets past CSRF (not
    403) — so the 403s above are CSRF's doing, not a broken URL."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("exercises:login"))
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    answer = client.post(
        reverse("exercises:login"), {"username": "x", "password": "y"}, HTTP_X_CSRFTOKEN=token
    )
    assert answer.status_code != 403
