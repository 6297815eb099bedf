"""Django's HTTP side of the ASGI app (tutorial.http_handler): requests for sync views run the
middleware chain in sync mode, async views keep Django's async chain, and a page through the
ASGI app is the page Django's test client gets (same HTML once the CSRF token is set aside, same
cookies and headers)."""

from __future__ import annotations

import asyncio
import re
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tutorial.http_handler import is_async_view

LESSON = "/lecciones/tu-primer-contenedor/"
# The CSRF token is masked afresh on every response, with or without this handler.
TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|data-csrf-token="|"X-CSRFToken": ")[A-Za-z0-9]+')


def http_scope(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


def through_asgi(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    """(status, headers as {lowercase name: [values]}, body) from tutorial.asgi.application."""
    from tutorial.asgi import application

    answer: dict[str, Any] = {"headers": {}, "body": b""}

    async def run() -> None:
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message["headers"]:
                    answer["headers"].setdefault(name.decode().lower(), []).append(value.decode())
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        await application(http_scope(path, method, headers), receive, send)

    asyncio.run(run())
    return answer["status"], answer["headers"], answer["body"].decode()


def cookie_names(set_cookie: list[str]) -> set[str]:
    names: set[str] = set()
    for line in set_cookie:
        names.update(SimpleCookie(line).keys())
    return names


@pytest.fixture
def allowed_host(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]


def test_pages_take_the_sync_chain_and_async_views_the_async_one() -> None:
    save = reverse("sandbox:workspace-save")
    assert is_async_view(http_scope(save))
    assert not is_async_view(
        http_scope(reverse("exercises:check", args=["tu-primer-contenedor", "uno"]))
    )
    assert not is_async_view(http_scope(LESSON))
    assert not is_async_view(http_scope(reverse("exercises:login")))
    assert not is_async_view(http_scope("/no-existe/en/ninguna/parte/"))
    assert not is_async_view(http_scope("/static/css/muelle.css"))
    # Under a mount point the view is found below it, as Django finds it.
    mounted = {**http_scope("/muelle" + save), "root_path": "/muelle"}
    assert is_async_view(mounted)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allowed_host")
def test_a_lesson_page_through_the_asgi_app_is_the_one_django_renders() -> None:
    status, headers, first_visit = through_asgi(LESSON)
    assert status == 200
    cookies = cookie_names(headers["set-cookie"])
    assert {"sessionid", "csrftoken"} <= cookies

    client = Client()
    expected = client.get(LESSON)
    assert cookies == set(expected.cookies.keys())
    assert TOKEN.sub("", first_visit) == TOKEN.sub("", expected.content.decode())

    # The returning student: the session the ASGI app made is read back (no new cookie but CSRF's).
    cookie = "; ".join(line.split(";", 1)[0] for line in headers["set-cookie"])
    status, again, page = through_asgi(LESSON, headers={"Cookie": cookie})
    assert status == 200
    assert "sessionid" not in cookie_names(again.get("set-cookie", []))
    assert TOKEN.sub("", page) == TOKEN.sub("", first_visit)
    for name in ("vary", "x-frame-options", "content-type", "x-content-type-options"):
        assert again[name] == [expected[name]], name


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allowed_host")
def test_an_async_view_still_goes_through_every_middleware() -> None:
    """The workspace's save (async) without a CSRF token: refused by CsrfViewMiddleware, in
    Django's async chain, with the headers every response gets."""
    save = reverse("sandbox:workspace-save")
    status, headers, _body = through_asgi(save, method="POST")
    assert status == 403
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]
