"""Muelle's side of the previews: the student's published ports, and links to open or share one.

These views run on Muelle's own origin with the student's session; they hand out signed links
to the preview origin and never proxy anything themselves.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from sandbox.browser_session import live_key
from sandbox.ports import students as port_tables
from sandbox.ports.table import PortTable
from sandbox.terminals import owner_key

from . import addresses, proxy, tokens


def _page_port(request: HttpRequest) -> int | None:
    try:
        return int(request.get_port())
    except (TypeError, ValueError):
        return None


def _link(request: HttpRequest, owner: str, host_port: int, *, share: bool) -> str:
    public = port_tables.public_id(owner)
    token = tokens.entry_token(public, host_port, share=share)
    path = proxy.SHARE_PATH if share else proxy.ENTRY_PATH
    return f"{addresses.origin(host_port, public, _page_port(request))}{path}?t={token}"


@require_GET
async def ports_panel(request: HttpRequest) -> HttpResponse:
    """The «Puertos» list of the terminal panel (htmx polls it while the page is open)."""
    table = await _atable(request)
    ports = table.summary() if table else []
    return await arender(request, "sandbox/ports_panel.html", {"ports": ports})


@require_GET
async def open_preview(request: HttpRequest, host_port: int) -> HttpResponse:
    table = await _atable(request)
    if table is None or host_port not in table.host_ports():
        return await arender(
            request, "sandbox/ports_missing.html", {"host_port": host_port}, status=404
        )
    response = HttpResponseRedirect(_link(request, table.owner, host_port, share=False))
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@xframe_options_sameorigin  # it is the Vista frame's first stop, inside Muelle's own page
async def frame_preview(request: HttpRequest, host_port: int) -> HttpResponse:
    """The Vista tab's frame: a single-use link to the preview that only this page's origin may
    frame (sandbox/preview/tokens.py says why the frame needs a cookie of its own)."""
    table = await _atable(request)
    if table is None or host_port not in table.host_ports():
        return await arender(
            request, "sandbox/ports_missing.html", {"host_port": host_port}, status=404
        )
    framer = request.build_absolute_uri("/").rstrip("/").lower()
    public = port_tables.public_id(table.owner)
    try:
        token = tokens.frame_token(public, host_port, framer)
    except ValueError:  # a Host whose port is no port: only a hand-made request sends one
        return HttpResponseBadRequest(_("La dirección de esta página no es válida."))
    origin = addresses.origin(host_port, public, _page_port(request))
    response = HttpResponseRedirect(f"{origin}{proxy.FRAME_PATH}?t={token}")
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@require_POST
async def share_preview(request: HttpRequest, host_port: int) -> HttpResponse:
    table = await _atable(request)
    if table is None or host_port not in table.host_ports():
        return await arender(
            request, "sandbox/ports_missing.html", {"host_port": host_port}, status=404
        )
    link = _link(request, table.owner, host_port, share=True)
    minutes = max(1, settings.PREVIEW_SHARE_SECONDS // 60)
    return await arender(
        request,
        "sandbox/ports_share.html",
        {"link": link, "host_port": host_port, "minutes": minutes},
    )


async def arender(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    # Templates read request.user (the database) and the session: never on the event loop.
    return await sync_to_async(render)(request, *args, **kwargs)  # type: ignore[arg-type]


async def _atable(request: HttpRequest) -> PortTable | None:
    key = await live_key(request.session)  # loaded before its key is trusted
    return port_tables.table_of(owner_key(key)) if key else None
