"""Who may use a preview: the preview cookies a request carries, and the port table they open.

Shared by the preview's ASGI app (sandbox.preview.proxy), its HTTP forwarding
(sandbox.preview.forward) and the server's fast path (sandbox.preview.fast_path), so every way in
checks a request the same way.
"""

from __future__ import annotations

from typing import Any

from sandbox.ports import students as port_tables
from sandbox.ports.table import PortTable

from . import addresses, tokens


def grant_from_cookies(scope: dict[str, Any], target: addresses.PreviewHost) -> tokens.Grant | None:
    """The first of the request's preview cookies that is valid for this host. Every one is
    tried: a page on another preview host can set a `muelle_vista` cookie for the whole preview
    domain (Domain=<PREVIEW_HOST>, from its own script), and the browser sends it beside the
    owner's; taking only one of them would let that page lock the owner out."""
    for name, value in _our_cookies(scope):
        frame = name == tokens.FRAME_COOKIE_NAME
        grant = tokens.read_cookie(value, target.public_id, target.host_port, frame=frame)
        if grant is not None:
            return grant
    return None


# What a cookie's name and value are trimmed of (RFC 6265 5.2: spaces and tabs), the same in
# the reader that grants and in the one that keeps Muelle's cookies from the container:
# str.strip() also trims \x85 and \xa0, so a name such as "\x85muelle_vista" granted access
# and still went on to the container.
_WSP = " \t"


def _our_cookies(scope: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for header in _cookie_headers(scope):
        for part in header.split(";"):
            name, sep, value = part.partition("=")
            name = name.strip(_WSP)
            if sep and name in tokens.COOKIE_NAMES:
                found.append((name, value.strip(_WSP).strip('"')))
    return found


def _cookie_headers(scope: dict[str, Any]) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"cookie"]


_OUR_NAMES = {name.encode() for name in tokens.COOKIE_NAMES}


def without_our_cookie(value: bytes) -> bytes | None:
    wsp = _WSP.encode()
    kept = [
        part
        for part in value.split(b";")
        if part.strip(wsp) and part.split(b"=", 1)[0].strip(wsp) not in _OUR_NAMES
    ]
    return b";".join(kept).strip(wsp) or None


def table_for(target: addresses.PreviewHost) -> PortTable | None:
    owner = port_tables.owner_of(target.public_id)
    return port_tables.table_of(owner) if owner else None
