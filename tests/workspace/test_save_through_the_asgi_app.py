"""A save from the editor through the server's own ASGI app (tutorial.asgi), whose body cap
(tutorial.body_limits) runs before Django: the text travels JSON-escaped, so a file the editor
can open (up to 1 MiB) may take more than the 1 MiB every other request is held to. Before, a
file of newlines opened and then could not be saved (413)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from sandbox import engine, workspace
from sandbox.terminals import owner_key
from tests.exercises.test_check_through_the_asgi_app import CSRF_SECRET, new_session, through_asgi

from .conftest import shell

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def allowed_host(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]


@pytest.mark.usefixtures("allowed_host")
async def test_a_file_of_newlines_the_editor_opened_can_be_saved(
    remove_sandboxes: None, settings: Any
) -> None:
    session_key = await sync_to_async(new_session)()
    sandbox = await engine.acquire(owner_key(session_key))
    text = "\n" * 700_000 + "fin"  # under MAX_FILE_BYTES; twice that once JSON-escaped
    await shell(
        sandbox, "head -c 700000 /dev/zero | tr '\\0' '\\n' > ~/lineas; printf fin >> ~/lineas"
    )
    opened = await workspace.read_file(sandbox, "lineas")
    assert opened.text == text
    body = json.dumps({"ruta": "lineas", "texto": text + "\n", "version": opened.version}).encode()
    assert settings.HTTP_MAX_BODY < len(body) <= workspace.MAX_SAVE_BODY
    headers = {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={CSRF_SECRET}",
        "X-CSRFToken": CSRF_SECRET,
    }
    status, answer = await through_asgi(
        reverse("sandbox:workspace-save"), headers, body, "application/json"
    )
    assert status == 200, answer[:300]
    code, out = await shell(sandbox, "wc -c < ~/lineas")
    assert int(out) == len(text) + 1
    # Every other URL keeps the general cap.
    status, answer = await through_asgi(
        reverse("sandbox:workspace-create"), headers, body, "application/json"
    )
    assert status == 413
