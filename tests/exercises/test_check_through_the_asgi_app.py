"""«Comprobar» through the server's own ASGI app (tutorial.asgi), as a browser sends it.

The check view is sync: its request takes Django's middleware chain in sync mode, in one thread
(tutorial.http_handler), and only its sandbox part runs on the server's event loop, where the
sandbox's check agent lives. What a student gets must not depend on that: CSRF still refuses a
POST without its token, and two clicks (the first starts the sandbox) are judged and counted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.urls import reverse

from exercises.models import CheckFailure, ExerciseProgress
from sandbox import engine
from sandbox.terminals import owner_key
from tests.exercises.conftest import check_url
from tutorial.http_handler import is_async_view

CSRF_SECRET = "k" * 32  # a CSRF cookie as Django sets it: 32 characters of its alphabet


@pytest.fixture
def allowed_host(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]


async def through_asgi(
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    content_type: str = "application/x-www-form-urlencoded",
) -> tuple[int, str]:
    """(status, body) of a POST answered by tutorial.asgi.application."""
    from tutorial.asgi import application

    answer: dict[str, Any] = {"body": b""}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path.split("?", 1)[0],
        "raw_path": path.split("?", 1)[0].encode(),
        "root_path": "",
        "query_string": path.partition("?")[2].encode(),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await application(scope, receive, send)
    return answer["status"], answer["body"].decode()


def new_session() -> str:
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store["visto"] = True
    store.save()
    assert store.session_key is not None
    return store.session_key


def a_click(session_key: str) -> dict[str, str]:
    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={CSRF_SECRET}",
        "X-CSRFToken": CSRF_SECRET,
        "HX-Request": "true",
    }


def test_the_check_takes_the_sync_chain() -> None:
    assert not is_async_view({"path": reverse("exercises:check", args=["practica", "uno"])})


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allowed_host", "lessons_dir")
async def test_a_check_without_its_csrf_token_is_refused() -> None:
    session_key = await sync_to_async(new_session)()
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}", "HX-Request": "true"}
    status, _body = await through_asgi(check_url("practica", "crea-archivo"), headers)
    assert status == 403
    assert not await ExerciseProgress.objects.aexists()


@pytest.mark.docker
@pytest.mark.usefixtures("allowed_host", "lessons_dir", "remove_sandboxes")
async def test_two_clicks_are_judged_on_the_servers_loop_and_counted() -> None:
    session_key = await sync_to_async(new_session)()
    url = check_url("practica", "crea-archivo")

    status, first = await through_asgi(url, a_click(session_key))  # starts the sandbox
    assert status == 200
    assert 'data-result="fallido"' in first
    assert "No encontramos ~/hola.txt con «hola» dentro." in first

    sandbox = await engine.get(owner_key(session_key))
    assert sandbox is not None
    made = await engine.run(sandbox, ["/bin/sh", "-c", "echo hola > ~/hola.txt"], timeout=30)
    assert made.exit_code == 0

    status, second = await through_asgi(url, a_click(session_key))
    assert status == 200
    assert 'data-result="aprobado"' in second
    assert "El archivo existe y dice hola." in second

    row = await ExerciseProgress.objects.aget(exercise_id="crea-archivo")
    assert row.attempts == 2
    assert row.completed_at is not None
    counter = await CheckFailure.objects.aget(exercise_id="crea-archivo")
    assert (counter.check_index, counter.failures) == (0, 1)


@pytest.mark.docker
@pytest.mark.usefixtures("allowed_host", "lessons_dir", "remove_sandboxes")
async def test_checks_from_one_address_hold_no_more_sandboxes_than_its_terminals_may(
    settings: Any,
) -> None:
    # Each click of a new session started a sandbox, past the per-address limit that only the
    # terminal applied: one script filled the server through «Comprobar».
    settings.CLIENT_MAX_SANDBOXES = 1
    url = check_url("practica", "crea-archivo")
    first_key = await sync_to_async(new_session)()
    status, first = await through_asgi(url, a_click(first_key))
    assert status == 200
    assert 'data-result="fallido"' in first  # judged, in a sandbox of its own
    second_key = await sync_to_async(new_session)()
    status, second = await through_asgi(url, a_click(second_key))
    assert status == 200
    assert "ya hay 1 entorno abierto, el máximo por dirección" in second
    assert [s.owner for s in await engine.list_managed()] == [owner_key(first_key)]
    # The first student keeps their place: their next click is judged again.
    status, again = await through_asgi(url, a_click(first_key))
    assert 'data-result="fallido"' in again
