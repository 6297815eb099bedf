"""Who the client is: the socket's peer, or what a trusted reverse proxy says it saw.

The per-address limits (sandbox.client_limits, tutorial.session_rate) and Django's REMOTE_ADDR
all read `scope["client"]`; tutorial.asgi's router sets it once, in front of everything. A proxy
header is believed only when the socket's peer is listed in TRUSTED_PROXIES (addresses or
networks, empty by default): anyone can send `X-Forwarded-For`, so by default the server uses
the peer and ignores the header (tutorial.server runs uvicorn without its own proxy-header
handling, which trusted 127.0.0.1 whatever the deployment). Behind a trusted proxy the address
is the right-most hop that is not itself a trusted proxy — hops to its left were written by the
client and may be anything — and `X-Forwarded-Proto: https` makes the scheme https/wss.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# When the ASGI server gives no peer (e.g. channels' test communicator).
UNKNOWN = "unknown"


def parse_networks(name: str, values: Iterable[str]) -> tuple[Network, ...]:
    """`values` as networks (a bare address is a /32 or /128); ImproperlyConfigured naming
    `name` on anything else."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks (10.0.0.0/8), got {value!r}"
            ) from None
    return tuple(networks)


@functools.lru_cache(maxsize=8)
def _trusted(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks("TRUSTED_PROXIES", values)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def _header(scope: dict[str, Any], name: str) -> list[str]:
    wanted = name.lower().encode("latin-1")
    return [value.decode("latin-1") for key, value in scope.get("headers", []) if key == wanted]


def resolve(scope: dict[str, Any]) -> dict[str, Any]:
    """`scope` with the real client address (and scheme) when its peer is a trusted proxy."""
    networks = _trusted(tuple(settings.TRUSTED_PROXIES))
    client = scope.get("client")
    if not networks or not client or not _is_trusted(str(client[0]), networks):
        return scope
    values = _header(scope, settings.CLIENT_ADDRESS_HEADER)
    hops = [hop for value in values for hop in value.split(",")]
    address = str(client[0])
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break  # garbage from the client's side: keep the last hop a proxy vouched for
        address = str(ip)
        if not _is_trusted(address, networks):
            break
    resolved = {**scope, "client": (address, 0)}
    proto = _header(scope, "x-forwarded-proto")
    if proto and proto[-1].split(",")[-1].strip().lower() == "https":
        resolved["scheme"] = "wss" if scope["type"] == "websocket" else "https"
    return resolved


def client_address(scope: dict[str, Any]) -> str:
    """The address the per-client limits count (after tutorial.asgi has resolved it)."""
    client = scope.get("client")
    return limit_key(str(client[0])) if client else UNKNOWN


def request_address(request: HttpRequest) -> str:
    """The same address for a Django request (its REMOTE_ADDR comes from that scope)."""
    return limit_key(request.META.get("REMOTE_ADDR") or UNKNOWN)


def limit_key(address: str) -> str:
    """What the per-address limits count for `address`. An IPv6 client counts by its /48: a
    site is given a /48 (RFC 6177; any tunnel broker hands one out for free) and may route any
    of its 65,536 /64s, so counted by /64, one person had 65,536 budgets of sessions, sandboxes
    and terminals, enough to hold every sandbox. A /48 may hold several customers of one
    provider (those given a /56 or /60): they share the budgets, as the customers behind one
    carrier-grade NAT share an IPv4 address, and every budget is sized for a whole class behind
    one address. An IPv6 address that carries an IPv4 one (::ffff:192.0.2.1, 6to4, Teredo,
    NAT64) is that IPv4."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one counts as that IPv4: one IPv4 address is
        # a whole 6to4 /48, and behind NAT64 every IPv4 client shares one /48.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return str(embedded)
        return str(ipaddress.IPv6Network((ip, SITE_PREFIX), strict=False))
    return address


# What one site is given (RFC 6177), and so what one person may hold: see limit_key.
SITE_PREFIX = 48
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix
