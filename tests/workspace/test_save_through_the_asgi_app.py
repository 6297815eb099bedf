"""A save from the editor through the server's own ASGI app (tutorial.asgi), whose body cap
(tutorial.body_limits, HTTP_MAX_BODY: 1 MiB, as the deploy proxy's) runs before Django. The text
goes as the body itself: inside JSON, a file the editor could open (up to 1 MiB) grew up to six
times, and a file of newlines opened but could not be saved (413)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from sandbox import engine, workspace
from sandbox.terminals import owner_key
from tests.exercises.test_check_through_the_asgi_app import (  # noqa: F401 - allowed_host
    CSRF_SECRET,
    allowed_host,
    new_session,
    through_asgi,
)

from .conftest import shell

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("allowed_host")
@pytest.mark.parametrize("character", ["\n", "\x01"])
async def test_a_file_the_editor_opened_can_be_saved_whatever_its_characters(
    remove_sandboxes: None, settings: Any, character: str
) -> None:
    session_key = await sync_to_async(new_session)()
    sandbox = await engine.acquire(owner_key(session_key))
    text = character * (workspace.MAX_FILE_BYTES - 1) + "\n"  # the largest file the editor opens
    await workspace.write_file(sandbox, "lineas", text, "")
    opened = await workspace.read_file(sandbox, "lineas")
    assert opened.text == text
    saved = text[:-1] + "x"
    headers = {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={CSRF_SECRET}",
        "X-CSRFToken": CSRF_SECRET,
    }
    query = urlencode({"ruta": "lineas", "version": opened.version})
    status, answer = await through_asgi(
        f"{reverse('sandbox:workspace-save')}?{query}",
        headers,
        saved.encode(),
        "text/plain; charset=utf-8",
    )
    assert status == 200, answer[:300]
    code, out = await shell(sandbox, "wc -c < ~/lineas; tail -c 1 ~/lineas")
    assert out == f"{workspace.MAX_FILE_BYTES}\nx".encode()
