"""The websocket Origin check: scheme, host and port, not the host name alone.

channels' AllowedHostsOriginValidator compares only the Origin's host name with ALLOWED_HOSTS,
so a page at `http://127.0.0.1:9999` (another program on the same machine, or later a student's
preview origin) or `https://127.0.0.1:8000` got a shell on `http://127.0.0.1:8000`. A terminal
handshake passes here only when its Origin is exactly the origin of the request itself — the
scheme the server saw (ws -> http, wss -> https; https behind a trusted proxy, see
tutorial.client_address) plus the Host header, itself checked against ALLOWED_HOSTS as Django
does — or one of CSRF_TRUSTED_ORIGINS (exact scheme://host[:port], the same list Django's CSRF
check trusts). So the default local run works at both http://127.0.0.1:8000 and
http://localhost:8000, each for its own pages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of a serialized origin; None for anything else ("null", paths)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]  # what Django itself allows then
    return hosts


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin the handshake was made to, or None when its Host is missing or not allowed."""
    hosts = [value for key, value in scope.get("headers", []) if key == b"host"]
    if len(hosts) != 1:
        return None
    host = hosts[0].decode("latin-1").lower()
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return parse_origin(f"{scheme}://{host}")


def trusted_origins() -> set[Origin]:
    return {origin for value in settings.CSRF_TRUSTED_ORIGINS if (origin := parse_origin(value))}


def origin_allowed(scope: dict[str, Any]) -> bool:
    origins = [value for key, value in scope.get("headers", []) if key == b"origin"]
    if len(origins) != 1:
        return False
    origin = parse_origin(origins[0].decode("latin-1"))
    if origin is None:
        return False
    mine = own_origin(scope)
    if mine is None:
        return False  # a Host outside ALLOWED_HOSTS is refused whatever the Origin
    return origin == mine or origin in trusted_origins()


class SameOriginValidator(OriginValidator):
    """An OriginValidator (tutorial.checks looks for one) with the strict same-origin rule."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards websockets")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
