"""The route cookie (tutorial.route_cookie): Muelle's origin carries the student's public id, the
one in their preview host names, so the proxy sends a student's pages, terminal and previews to
one web process. Set once per session, moved when the session's owner changes (a login), never
on a preview host or on a response shared caches may keep, and no page's HTML changes."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse

from sandbox.ports.students import public_id
from sandbox.terminals import owner_key

ROUTE_COOKIE = settings.ROUTE_COOKIE_NAME

LESSON = "/lecciones/tu-primer-contenedor/"
PREVIEW = "8080-0123456789ab.vista.localhost"
# The CSRF token is masked afresh on every response.
TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|data-csrf-token="|"X-CSRFToken": ")[A-Za-z0-9]+')
WITHOUT_IT = [
    m for m in settings.MIDDLEWARE if m != "tutorial.route_cookie.route_cookie_middleware"
]


def preview_id_of(session_key: str) -> str:
    """The public id the student's preview addresses carry (the owner the terminal and the
    port table use)."""
    return public_id(owner_key(session_key))


def start_session(client: Client) -> str:
    response = client.post(reverse("sandbox:session"))
    assert response.status_code == 204
    return response.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.django_db
def test_the_cookie_is_the_public_id_of_the_new_session_and_is_set_once() -> None:
    client = Client()
    response = client.post(reverse("sandbox:session"))
    key = response.cookies[settings.SESSION_COOKIE_NAME].value
    route = response.cookies[ROUTE_COOKIE]
    assert route.value == preview_id_of(key)
    assert route["httponly"] and route["samesite"] == "Lax" and route["path"] == "/"
    assert not route["domain"]  # host-only: preview hosts never receive it
    assert bool(route["secure"]) == settings.SESSION_COOKIE_SECURE
    assert "Cookie" in response["Vary"]
    # The browser has it now: later responses leave it alone.
    for later in (client.get(LESSON), client.get("/"), client.post(reverse("sandbox:session"))):
        assert later.status_code in (200, 204)
        assert ROUTE_COOKIE not in later.cookies
    assert client.cookies[ROUTE_COOKIE].value == preview_id_of(key)


@pytest.mark.django_db
@override_settings(SESSION_COOKIE_SECURE=True)
def test_over_https_the_cookie_is_secure() -> None:
    response = Client().post(reverse("sandbox:session"))
    assert response.cookies[ROUTE_COOKIE]["secure"]


@pytest.mark.django_db
def test_no_session_no_cookie_and_a_stale_one_is_set_right() -> None:
    client = Client()
    page = client.get("/")  # the index makes no session
    assert page.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in page.cookies
    assert ROUTE_COOKIE not in page.cookies
    key = start_session(client)
    client.cookies[ROUTE_COOKIE] = "000000000000"  # another owner's, or a forged one
    page = client.get(LESSON)
    assert page.cookies[ROUTE_COOKIE].value == preview_id_of(key)


@pytest.mark.django_db
def test_the_cookie_follows_the_owner_when_the_session_changes_at_login_and_logout() -> None:
    User.objects.create_user("profe", password="una-clave-larga-1", is_staff=True)  # noqa: S106
    client = Client()
    first = start_session(client)
    assert client.cookies[ROUTE_COOKIE].value == preview_id_of(first)
    login = client.post(
        "/admin/login/", {"username": "profe", "password": "una-clave-larga-1", "next": "/admin/"}
    )
    assert login.status_code == 302
    # login() cycles the session key: a new owner for the terminal and the ports.
    second = login.cookies[settings.SESSION_COOKIE_NAME].value
    assert second != first
    assert login.cookies[ROUTE_COOKIE].value == preview_id_of(second) != preview_id_of(first)
    logout = client.post("/admin/logout/")
    assert logout.status_code in (200, 302)
    assert not logout.cookies[settings.SESSION_COOKIE_NAME].value  # the session cookie goes
    gone = logout.cookies[ROUTE_COOKIE]
    assert not gone.value and gone["max-age"] == 0


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=["testserver", PREVIEW])
def test_no_cookie_on_a_preview_host() -> None:
    client = Client()
    key = start_session(client)
    del client.cookies[ROUTE_COOKIE]
    for response in (
        client.get(LESSON, HTTP_HOST=PREVIEW),
        client.post(reverse("sandbox:session"), HTTP_HOST=PREVIEW),
    ):
        assert response.status_code in (200, 204)
        assert ROUTE_COOKIE not in response.cookies
    # Muelle's own host still gets it.
    assert Client(HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={key}").get(LESSON).cookies[
        ROUTE_COOKIE
    ].value == preview_id_of(key)


@pytest.mark.django_db
def test_no_cookie_on_a_response_shared_caches_may_keep() -> None:
    client = Client()
    key = start_session(client)
    del client.cookies[ROUTE_COOKIE]
    asset = client.get(f"{LESSON}recursos/primer-y-segundo-plano.svg")
    assert asset.status_code == 200 and "public" in asset["Cache-Control"]
    assert ROUTE_COOKIE not in asset.cookies
    # The next page sets it.
    assert client.get(LESSON).cookies[ROUTE_COOKIE].value == preview_id_of(key)


def normalized(html: bytes) -> str:
    return TOKEN.sub(r"\1TOKEN", html.decode())


@pytest.mark.django_db
def test_pages_are_the_same_html_with_and_without_it() -> None:
    """A first visit (the lesson makes the session, and the cookie with it) and a student's
    later pages, each without the cookie so that it is set: the same HTML as without the
    middleware, the lesson the second time from its cached shell."""
    with_it = Client()
    without_it = Client()
    for path in (LESSON, "/", LESSON):
        ours = with_it.get(path)
        with override_settings(MIDDLEWARE=WITHOUT_IT):
            theirs = without_it.get(path)
        assert ours.status_code == theirs.status_code == 200
        assert normalized(ours.content) == normalized(theirs.content)
        key = with_it.cookies[settings.SESSION_COOKIE_NAME].value
        assert ours.cookies[ROUTE_COOKIE].value == preview_id_of(key)
        assert ROUTE_COOKIE not in theirs.cookies
        # The other client follows the same session; the next page sets the cookie again.
        without_it.cookies[settings.SESSION_COOKIE_NAME] = key
        del with_it.cookies[ROUTE_COOKIE]


@pytest.mark.django_db(transaction=True)
async def test_the_async_chain_sets_it_too() -> None:
    client = AsyncClient()
    response = await client.post(reverse("sandbox:session"))
    key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert response.cookies[ROUTE_COOKIE].value == preview_id_of(key)
