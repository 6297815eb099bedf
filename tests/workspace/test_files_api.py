"""The editor's JSON API through its real URLs: the student's own sandbox from their session,
CSRF on every change, Spanish refusals, and the 409 of a stale save."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import AsyncClient
from django.urls import reverse

from sandbox import engine, workspace
from sandbox.terminals import owner_key
from tests.exercises.test_check_through_the_asgi_app import CSRF_SECRET

from .conftest import shell

pytestmark = pytest.mark.docker


async def _student(remove_sandboxes: None) -> tuple[AsyncClient, engine.Sandbox]:
    client = AsyncClient()
    response = await client.post(reverse("sandbox:session"))
    assert response.status_code == 204
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return client, await engine.acquire(owner_key(key))


async def _post(client: AsyncClient, name: str, data: dict[str, Any]) -> Any:
    return await client.post(
        reverse(f"sandbox:{name}"), json.dumps(data), content_type="application/json"
    )


async def _save(client: AsyncClient, path: str, text: str, version: str) -> Any:
    """The editor's save: the text as the body, the path and the version read in the query."""
    query = urlencode({"ruta": path, "version": version})
    return await client.post(
        f"{reverse('sandbox:workspace-save')}?{query}",
        text.encode(),
        content_type="text/plain; charset=utf-8",
    )


async def test_save_then_the_terminal_sees_it_then_a_stale_save_is_409(
    remove_sandboxes: None,
) -> None:
    client, sandbox = await _student(remove_sandboxes)
    saved = await _save(client, "Dockerfile", "FROM muelle/hola\n", "")
    assert saved.status_code == 200, saved.content
    code, out = await shell(sandbox, "cat ~/Dockerfile")
    assert out == b"FROM muelle/hola\n"

    opened = await client.get(reverse("sandbox:workspace-read"), {"ruta": "Dockerfile"})
    assert opened.json()["version"] == saved.json()["version"]
    await shell(sandbox, "echo 'FROM muelle/busybox' > ~/Dockerfile")
    stale = await _save(client, "Dockerfile", "FROM x\n", opened.json()["version"])
    assert stale.status_code == 409
    assert stale.json()["conflict"] is True
    assert stale.json()["error"] == "El archivo cambió en la terminal: ¿recargar o sobrescribir?"
    assert stale.json()["version"] == workspace.version_of(b"FROM muelle/busybox\n")

    tree = await client.get(reverse("sandbox:workspace-tree"))
    assert {"path": "Dockerfile", "kind": "file", "size": 20} in tree.json()["entries"]


async def test_each_student_sees_only_their_own_sandbox(remove_sandboxes: None) -> None:
    alice, alice_box = await _student(remove_sandboxes)
    bob, _bob_box = await _student(remove_sandboxes)
    await shell(alice_box, "echo secreto > ~/clave.txt")
    answer = await bob.get(reverse("sandbox:workspace-read"), {"ruta": "clave.txt"})
    assert answer.status_code == 404
    answer = await alice.get(reverse("sandbox:workspace-read"), {"ruta": "clave.txt"})
    assert answer.json()["text"] == "secreto\n"


async def test_without_a_session_nothing_starts(remove_sandboxes: None) -> None:
    client = AsyncClient()
    answer = await client.get(reverse("sandbox:workspace-tree"))
    assert answer.status_code == 403
    assert "sesión" in answer.json()["error"]
    # The one refusal the editor mends by itself (it opens the session and sends again).
    assert answer.json()["session"] == "missing"
    assert await engine.list_managed() == []
    assert (await client.post(reverse("sandbox:session"))).status_code == 204
    assert (await client.get(reverse("sandbox:workspace-tree"))).status_code == 200


async def test_a_made_up_session_cookie_starts_nothing(remove_sandboxes: None) -> None:
    # Any key of eight characters or more passed for a session: each one got a sandbox, past the
    # limits on new sessions and on sandboxes per address (the terminal refused it already).
    client = AsyncClient()
    for _ in range(2):
        client.cookies[settings.SESSION_COOKIE_NAME] = f"inventada{secrets.token_hex(8)}"
        answer = await client.get(reverse("sandbox:workspace-tree"))
        assert answer.status_code == 403
        assert "sesión" in answer.json()["error"]
    assert await engine.list_managed() == []


async def test_the_editor_holds_no_more_sandboxes_per_address_than_terminals_may(
    remove_sandboxes: None, settings: Any
) -> None:
    # Only the terminal applied the per-address limit: a script with many sessions filled the
    # server through the editor. Its sandbox now holds a place of the address as a terminal's.
    settings.CLIENT_MAX_SANDBOXES = 1
    answers = []
    for _ in range(2):
        client = AsyncClient()
        assert (await client.post(reverse("sandbox:session"))).status_code == 204
        answers.append(await client.get(reverse("sandbox:workspace-tree")))
    assert answers[0].status_code == 200
    assert answers[1].status_code == 429
    assert "el máximo por dirección" in answers[1].json()["error"]
    assert len(await engine.list_managed()) == 1


async def test_editing_moves_the_idle_clock_of_the_sandboxs_lease(remove_sandboxes: None) -> None:
    # A student who only edits keeps their sandbox: the lease (the terminal's, when one is
    # open) counts the editor's saves as activity, not only keystrokes.
    import time

    from sandbox.terminals import get_registry

    client = AsyncClient()
    assert (await client.post(reverse("sandbox:session"))).status_code == 204
    assert (await client.get(reverse("sandbox:workspace-tree"))).status_code == 200
    owner = owner_key(client.cookies[settings.SESSION_COOKIE_NAME].value)
    lease = get_registry().leases[owner]
    lease.last_input -= 600  # ten minutes without a keystroke
    saved = await _save(client, "a.txt", "1\n", "")
    assert saved.status_code == 200
    assert lease.last_input > time.monotonic() - 60


async def test_changes_need_the_csrf_token(remove_sandboxes: None) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    page = await client.get(reverse("sandbox:workspace-tree"))
    assert page.status_code == 403
    answer = await client.post(
        reverse("sandbox:workspace-delete"), "{}", content_type="application/json"
    )
    assert answer.status_code == 403
    assert b"CSRF" in answer.content


async def test_refusals_are_spanish_json(remove_sandboxes: None) -> None:
    client, sandbox = await _student(remove_sandboxes)
    outside = await client.get(reverse("sandbox:workspace-read"), {"ruta": "../../etc/passwd"})
    assert outside.status_code == 403
    assert "carpeta personal" in outside.json()["error"]
    assert "session" not in outside.json()  # not to be sent again by the editor
    broken = await client.post(
        reverse("sandbox:workspace-delete"), "no es json", content_type="application/json"
    )
    assert broken.status_code == 400
    assert broken.json()["error"] == "La petición no es válida."
    renamed = await _post(client, "workspace-rename", {"ruta": "a", "nueva": "/etc/a"})
    assert renamed.status_code == 403


async def test_a_hostile_body_is_a_spanish_400_and_not_a_500(remove_sandboxes: None) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    started = await client.post(reverse("sandbox:session"), headers={"X-CSRFToken": CSRF_SECRET})
    assert started.status_code == 204
    # Nesting deep enough to exhaust json's recursion.
    deep = await client.post(
        reverse("sandbox:workspace-delete"),
        "[" * 200_000,
        content_type="application/json",
        headers={"X-CSRFToken": CSRF_SECRET},
    )
    # A form with the token as a field: the CSRF check reads it through request.POST, after
    # which the raw body can no longer be read.
    form = await client.post(
        reverse("sandbox:workspace-save"),
        {"csrfmiddlewaretoken": CSRF_SECRET, "ruta": "a", "texto": "b", "version": ""},
    )
    for answer in (deep, form):
        assert answer.status_code == 400, answer.content[:300]
        assert answer.json()["error"] == "La petición no es válida."


async def test_a_flood_of_requests_is_refused_beyond_a_few_at_once(
    remove_sandboxes: None,
) -> None:
    import asyncio

    from asgiref.sync import sync_to_async
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    from sandbox import workspace_views

    store = SessionStore()
    await sync_to_async(store.save)()
    await engine.acquire(owner_key(store.session_key))
    request = RequestFactory().get("/")
    request.session = store
    gate = asyncio.Event()
    started = 0

    async def slow(sandbox: engine.Sandbox) -> dict[str, Any]:
        nonlocal started
        started += 1
        await gate.wait()  # an exec that takes its time
        return {"ok": True}

    limit = workspace_views.MAX_IN_FLIGHT
    first = [asyncio.create_task(workspace_views._in_sandbox(request, slow)) for _ in range(limit)]
    while started < limit:
        await asyncio.sleep(0.01)
    # Without the limit this one would wait at the gate: bounded, so the test fails instead.
    refused = await asyncio.wait_for(workspace_views._in_sandbox(request, slow), 30)
    assert refused.status_code == 429
    assert "demasiado rápido" in json.loads(refused.content)["error"]
    gate.set()
    assert [answer.status_code for answer in await asyncio.gather(*first)] == [200] * limit
    # Nothing stays counted: once they are answered, a new one goes through.
    assert workspace_views._in_flight == {}
    again = await workspace_views._in_sandbox(request, slow)
    assert again.status_code == 200


async def test_an_edit_counts_as_activity_recorded_at_most_every_few_seconds(
    remove_sandboxes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgiref.sync import sync_to_async

    from sandbox import terminals
    from sandbox.models import SandboxRecord
    from sandbox.terminals import get_registry

    # Ten minutes between writes here: the second save (an exec in the sandbox) took longer
    # than the real 10 s on a loaded machine. The end of the interval is forced below.
    monkeypatch.setattr(terminals, "TOUCH_EVERY", 600)

    client, sandbox = await _student(remove_sandboxes)

    async def last_activity() -> Any:
        row = await sync_to_async(SandboxRecord.objects.get)(container_id=sandbox.container_id)
        return row.last_activity

    before = await last_activity()
    first = await _save(client, "a.txt", "1\n", "")
    assert first.status_code == 200
    touched = await last_activity()
    assert touched > before  # the save started the idle timeout again

    second = await _save(client, "a.txt", "2\n", "*")
    assert second.status_code == 200
    assert await last_activity() == touched  # within TOUCH_EVERY: no second database write

    lease = get_registry().leases[sandbox.owner]
    lease._last_touch -= terminals.TOUCH_EVERY  # as if the interval were over
    third = await _save(client, "a.txt", "3\n", "*")
    assert third.status_code == 200
    assert await last_activity() > touched  # once the interval is over, recorded again
