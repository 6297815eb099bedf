"""Preview host names: `<host port>-<student id>.<PREVIEW_HOST>`, parsed and built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

_LABEL = re.compile(r"^(?P<port>[1-9][0-9]{0,4})-(?P<id>[0-9a-f]{12})$")


@dataclass(frozen=True)
class PreviewHost:
    host_port: int
    public_id: str


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def parse_host(host: str | None) -> PreviewHost | None:
    """The preview a Host header names; None for any other host (Muelle's own, or forged)."""
    suffix = "." + settings.PREVIEW_HOST
    if not host or not settings.PREVIEW_HOST:
        return None
    name = host.lower()
    if name.startswith("["):
        return None
    if ":" in name:
        name, _colon, port = name.rpartition(":")
        if not (port.isascii() and port.isdigit() and len(port) <= 5):
            return None  # a port is up to five digits: anything else is not a browser's Host
    if not name.endswith(suffix):
        return None
    match = _LABEL.match(name[: -len(suffix)])
    if not match or int(match["port"]) > 65535:
        return None
    return PreviewHost(int(match["port"]), match["id"])


def is_preview_scope(scope: dict[str, Any]) -> bool:
    return is_preview_host(header(scope, b"host"))


def is_preview_host(host: str | None) -> bool:
    """Whether a Host header (port or not) names a preview: a host under PREVIEW_HOST."""
    if not settings.PREVIEW_HOST or not host:
        return False
    return host.lower().split(":")[0].endswith("." + settings.PREVIEW_HOST)


def origin(host_port: int, public_id: str, page_port: int | None) -> str:
    """The preview's origin as the browser will see it."""
    scheme = "https" if settings.PREVIEW_HTTPS else "http"
    # Locally the preview is served by the same server as the page (same port). Behind a TLS
    # proxy the page's port is the server's internal one: PREVIEW_PORT, or the default.
    port = settings.PREVIEW_PORT or (None if settings.PREVIEW_HTTPS else page_port)
    default = 443 if scheme == "https" else 80
    shown = f":{port}" if port and port != default else ""
    return f"{scheme}://{host_port}-{public_id}.{settings.PREVIEW_HOST}{shown}"
