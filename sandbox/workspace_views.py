"""The workspace editor's JSON API (docs/workspace.md): the student's own sandbox, found from
their browser session as the terminal finds it, and sandbox.workspace for every file operation.

Reads are GET, changes are POST with a JSON body (a save: the text itself) and Django's CSRF
token (X-CSRFToken header). Every answer is JSON; a refusal is {"error": "<Spanish text>"} with a
4xx/5xx status; the one refusal the editor mends by itself (no session open yet) also says
{"session": "missing"}.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from sandbox import engine, workspace
from sandbox.browser_session import live_key
from sandbox.client_limits import AddressFull
from sandbox.terminal_notices import address_full_message
from sandbox.terminals import get_registry, owner_key
from tutorial.client_address import request_address

logger = logging.getLogger(__name__)

Operation = Callable[[engine.Sandbox], Awaitable[dict[str, Any]]]

# Each operation is a `docker exec`, work for the engine: a student (or a script with their
# cookie) gets this many at once, and a refusal beyond it instead of a queue.
MAX_IN_FLIGHT = 4
_in_flight: dict[str, int] = {}


def _answer(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _error(message: str, status: int, **extra: Any) -> JsonResponse:
    return _answer({"error": message, **extra}, status=status)


async def _owner(request: HttpRequest) -> str | None:
    # The session loaded before its key is trusted (browser_session.live_key): any made-up key
    # got a sandbox of its own, past the limits on new sessions and on sandboxes per address.
    key = await live_key(request.session)
    return owner_key(key) if key else None


async def _in_sandbox(request: HttpRequest, operation: Operation) -> JsonResponse:
    owner = await _owner(request)
    if owner is None:
        # `session` tells the editor this 403 is the one it may mend (by opening the session
        # and sending again); a permission refused inside the sandbox must not be sent twice.
        return _error(
            _("Tu sesión no está abierta. Recarga la página para usar el editor."),
            403,
            session="missing",
        )
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
        return _answer(await get_registry().in_sandbox(owner, address, operation))
    except workspace.Stale as exc:
        return _error(exc.message, exc.status, version=exc.version, conflict=True)
    except workspace.WorkspaceError as exc:
        return _error(exc.message, exc.status)
    except AddressFull:
        return _error(address_full_message(), 429)
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
    # The text is the body itself (text/plain, UTF-8); the path and the version the editor read
    # go in the query. Inside JSON a file the editor could open grew up to six times (a newline
    # is two bytes there, a control character six) and no longer fitted HTTP_MAX_BODY.
    if request.content_type != "text/plain":
        return _error(_("La petición no es válida."), 400)
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _error(_("El texto tiene caracteres que no son válidos."), 400)
    raw_path, base_version = request.GET.get("ruta"), request.GET.get("version")

    async def run(sandbox: engine.Sandbox) -> dict[str, Any]:
        path = workspace.clean_path(raw_path)
        version = await workspace.write_file(sandbox, path, text, base_version)
        return {"path": path, "version": version}

    return await _in_sandbox(request, run)


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
