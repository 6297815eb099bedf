"""The workspace editor's JSON API (docs/workspace.md): the student's own sandbox, found from
their browser session as the terminal finds it, and sandbox.workspace for every file operation.

Reads are GET, changes are POST with a JSON body and Django's CSRF token (X-CSRFToken header).
Every answer is JSON; a refusal is {"error": "<Spanish text>"} with a 4xx/5xx status.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from sandbox import engine, workspace
from sandbox.client_limits import AddressFull
from sandbox.terminals import Lease, get_registry, owner_key
from tutorial.client_address import request_address

logger = logging.getLogger(__name__)

Operation = Callable[[engine.Sandbox], Awaitable[dict[str, Any]]]

# Each operation is a `docker exec`, work for the engine: a student (or a script with their
# cookie) gets this many at once, and a refusal beyond it instead of a queue.
MAX_IN_FLIGHT = 4
_in_flight: dict[str, int] = {}
# Editing is activity (the idle timeout starts again), recorded at most this often per sandbox,
# as the terminal does for keystrokes: the record is a database write, and a student saving
# every few seconds would pay it on each save (measured: ~20 ms of a save under load, bench/
# workspace.py). Far within the idle timeout (minutes) and the reaper's slack.
TOUCH_EVERY = 10.0
_touched: dict[str, float] = {}


def _answer(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _error(message: str, status: int, **extra: Any) -> JsonResponse:
    return _answer({"error": message, **extra}, status=status)


async def _owner(request: HttpRequest) -> str | None:
    # The session is loaded first, as the terminal does (sandbox.consumers.live_session_key):
    # the key of a cookie alone is whatever the browser sent, and any made-up one got a
    # sandbox of its own, past the limits on new sessions and on sandboxes per address. Loading
    # an unknown or expired session makes Django drop its key.
    await request.session.akeys()
    key = request.session.session_key
    return owner_key(key) if key else None


async def _lease(owner: str, address: str) -> Lease:
    # As exercises.views does: the engine's background tasks start from an empty context, so
    # they never inherit this request's executors.
    contextvars.Context().run(engine.ensure_background_tasks)
    return await get_registry().lease_without_terminal(owner, address)


async def _in_sandbox(request: HttpRequest, operation: Operation) -> JsonResponse:
    owner = await _owner(request)
    if owner is None:
        return _error(_("Tu sesión no está abierta. Recarga la página para usar el editor."), 403)
    if _in_flight.get(owner, 0) >= MAX_IN_FLIGHT:
        return _error(
            _("Vas demasiado rápido: espera a que termine lo anterior y vuelve a intentarlo."), 429
        )
    _in_flight[owner] = _in_flight.get(owner, 0) + 1
    try:
        return await _run(owner, request_address(request), operation)
    finally:
        _in_flight[owner] -= 1
        if not _in_flight[owner]:
            del _in_flight[owner]


async def _run(owner: str, address: str, operation: Operation) -> JsonResponse:
    try:
        lease = await _lease(owner, address)
        try:
            answer = await operation(lease.sandbox)
        except engine.SandboxGone:
            if get_registry().terminals_of(owner):
                raise  # its terminals end the lease and say why
            lease.release()  # a lease of the editor's own: once more, on a new sandbox
            lease = await _lease(owner, address)
            answer = await operation(lease.sandbox)
        lease.note_activity()
        await _touch(lease.sandbox)
        return _answer(answer)
    except AddressFull:
        return _error(AddressFull.message(), 429)
    except workspace.Stale as exc:
        return _error(exc.message, exc.status, version=exc.version, conflict=True)
    except workspace.WorkspaceError as exc:
        return _error(exc.message, exc.status)
    except engine.SessionLimitReached as exc:
        return _error(exc.message, 429)
    except engine.EngineUnavailable:
        return _error(
            _("Ahora mismo tu contenedor no está disponible: no responde ningún motor de Docker."),
            503,
        )
    except engine.CapacityFull:
        return _error(
            _("Hay muchas personas practicando ahora mismo. Vuelve a intentarlo en un momento."),
            503,
        )
    except engine.SandboxGone:
        return _error(_("Tu contenedor acaba de cerrarse. Vuelve a intentarlo."), 503)


async def _touch(sandbox: engine.Sandbox) -> None:
    now = time.monotonic()
    if now - _touched.get(sandbox.container_id, -math.inf) < TOUCH_EVERY:
        return
    if len(_touched) > 10_000:  # sandboxes long gone: the map never grows without bound
        _touched.clear()
    _touched[sandbox.container_id] = now
    await engine.touch(sandbox)


def _body(request: HttpRequest) -> dict[str, Any]:
    # Only JSON: a form body (which the CSRF check has already read through request.POST) can
    # no longer be read as request.body; and nesting deep enough exhausts json's recursion.
    if request.content_type != "application/json":
        raise workspace.WorkspaceError(_("La petición no es válida."))
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise workspace.WorkspaceError(_("La petición no es válida.")) from None
    if not isinstance(data, dict):
        raise workspace.WorkspaceError(_("La petición no es válida."))
    return data


async def _posted(request: HttpRequest, operation: Callable[..., Operation]) -> JsonResponse:
    try:
        data = _body(request)
    except workspace.WorkspaceError as exc:
        return _error(exc.message, exc.status)
    return await _in_sandbox(request, operation(data))


@never_cache
@require_GET
async def tree(request: HttpRequest) -> JsonResponse:
    async def operation(sandbox: engine.Sandbox) -> dict[str, Any]:
        found = await workspace.list_tree(sandbox)
        return {
            "home": workspace.home(),
            "entries": [{"path": e.path, "kind": e.kind, "size": e.size} for e in found.entries],
            "truncated": found.truncated,
        }

    return await _in_sandbox(request, operation)


@never_cache
@require_GET
async def read(request: HttpRequest) -> JsonResponse:
    async def operation(sandbox: engine.Sandbox) -> dict[str, Any]:
        found = await workspace.read_file(sandbox, request.GET.get("ruta"))
        return {"path": found.path, "text": found.text, "version": found.version}

    return await _in_sandbox(request, operation)


@require_POST
async def save(request: HttpRequest) -> JsonResponse:
    def operation(data: dict[str, Any]) -> Operation:
        async def run(sandbox: engine.Sandbox) -> dict[str, Any]:
            path = workspace.clean_path(data.get("ruta"))
            version = await workspace.write_file(
                sandbox, path, data.get("texto"), data.get("version")
            )
            return {"path": path, "version": version}

        return run

    return await _posted(request, operation)


@require_POST
async def create(request: HttpRequest) -> JsonResponse:
    def operation(data: dict[str, Any]) -> Operation:
        async def run(sandbox: engine.Sandbox) -> dict[str, Any]:
            folder = data.get("tipo") == "carpeta"
            path = await workspace.create(sandbox, data.get("ruta"), folder=folder)
            return {"path": path, "version": "" if folder else workspace.version_of(b"")}

        return run

    return await _posted(request, operation)


@require_POST
async def rename(request: HttpRequest) -> JsonResponse:
    def operation(data: dict[str, Any]) -> Operation:
        async def run(sandbox: engine.Sandbox) -> dict[str, Any]:
            path = await workspace.rename(sandbox, data.get("ruta"), data.get("nueva"))
            return {"path": path}

        return run

    return await _posted(request, operation)


@require_POST
async def delete(request: HttpRequest) -> JsonResponse:
    def operation(data: dict[str, Any]) -> Operation:
        async def run(sandbox: engine.Sandbox) -> dict[str, Any]:
            await workspace.delete(sandbox, data.get("ruta"))
            return {"deleted": workspace.clean_path(data.get("ruta"))}

        return run

    return await _posted(request, operation)
