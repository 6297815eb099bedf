"""What a student asked to publish, as the engine's API says it, and how Docker shows it back.

`docker run -p 8080:80` arrives as HostConfig.PortBindings {"80/tcp": [{"HostIp": "",
"HostPort": "8080"}]}; `-P` as PublishAllPorts. The gateway keeps both away from the engine (a
real binding would open a port on the server) and stores them, as written, in a label; this
module validates them, and renders the engine's views of them (`inspect`, `ps`, `docker port`)
from that label and the host ports Muelle chose.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

LABEL = "muelle.publish"
# Docker's own range for engine-chosen host ports (/proc/sys/net/ipv4/ip_local_port_range).
EPHEMERAL = (32768, 60999)
MAX_BINDINGS = 16
_PORT_KEY = re.compile(r"^(\d{1,5})(?:/(tcp|udp|sctp))?$")
# Host addresses a sandbox has: it has only loopback, so these are the ones that mean "here".
_LOCAL_HOSTS = {"", "0.0.0.0", "::", "127.0.0.1", "::1"}  # noqa: S104


class PublishError(ValueError):
    """A publish request Muelle refuses; the message is Spanish and says why."""


@dataclass(frozen=True)
class Binding:
    container_port: int
    proto: str
    host_ip: str  # as the student wrote it ("" for none)
    host_port: int | None  # None: the engine (here Muelle) chooses one at start

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


@dataclass(frozen=True)
class Request:
    """Everything a container asked to publish, as stored in its label."""

    port_bindings: dict[str, Any]  # HostConfig.PortBindings exactly as validated
    publish_all: bool

    @property
    def empty(self) -> bool:
        return not self.port_bindings and not self.publish_all

    def to_label(self) -> str:
        return json.dumps({"b": self.port_bindings, "all": self.publish_all}, sort_keys=True)

    @classmethod
    def from_labels(cls, labels: dict[str, str] | None) -> Request:
        raw = (labels or {}).get(LABEL)
        if not raw:
            return cls({}, False)
        data = json.loads(raw)
        return cls(dict(data.get("b") or {}), bool(data.get("all")))

    def bindings(self) -> list[Binding]:
        return parse_port_bindings(self.port_bindings)


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise PublishError(
            _("Puerto no válido en -p: «%(port)s» (%(what)s va de 1 a 65535).")
            % {"port": text, "what": what}
        )
    return int(text)


def parse_port_key(key: str) -> tuple[int, str]:
    match = _PORT_KEY.match(key)
    if not match:
        if "-" in key:
            raise PublishError(
                _(
                    "Muelle no publica rangos de puertos («%(key)s»): publica cada puerto con "
                    "su propio -p."
                )
                % {"key": key}
            )
        raise PublishError(_("Puerto del contenedor no válido: «%(key)s».") % {"key": key})
    proto = match.group(2) or "tcp"
    if proto != "tcp":
        raise PublishError(
            _(
                "Muelle solo publica puertos TCP; «%(key)s» es %(proto)s. Quita «/%(proto)s» "
                "o usa TCP (la vista del navegador y curl usan TCP)."
            )
            % {"key": key, "proto": proto.upper()}
        )
    return _port(match.group(1), _("el puerto del contenedor")), proto


def parse_port_bindings(value: Any) -> list[Binding]:
    """Validates HostConfig.PortBindings; Spanish PublishError for what Muelle refuses."""
    if value in (None, {}):
        return []
    if not isinstance(value, dict):
        raise PublishError(_("PortBindings debe ser un objeto."))
    out: list[Binding] = []
    for key, entries in value.items():
        container_port, proto = parse_port_key(str(key))
        for entry in entries or [{}]:
            if not isinstance(entry, dict) or set(entry) - {"HostIp", "HostPort"}:
                raise PublishError(
                    _("Publicación de puerto no válida para %(key)s.") % {"key": key}
                )
            host_ip = entry.get("HostIp") or ""
            host_port_text = str(entry.get("HostPort") or "")
            if not isinstance(host_ip, str):
                raise PublishError(_("Dirección no válida en -p."))
            _check_host_ip(host_ip)
            if "-" in host_port_text:
                raise PublishError(
                    _(
                        "Muelle no publica rangos de puertos («%(range)s»): publica cada "
                        "puerto con su propio -p."
                    )
                    % {"range": host_port_text}
                )
            host_port = _port(host_port_text, _("el puerto publicado")) if host_port_text else None
            out.append(Binding(container_port, proto, host_ip, host_port))
    if len(out) > MAX_BINDINGS:
        raise PublishError(
            _("Demasiados puertos publicados en un contenedor (máximo %(max)d).")
            % {"max": MAX_BINDINGS}
        )
    return out


def _check_host_ip(host_ip: str) -> None:
    if host_ip in _LOCAL_HOSTS:
        return
    try:
        ipaddress.ip_address(host_ip)
    except ValueError:
        raise PublishError(_("Dirección no válida en -p: «%(ip)s».") % {"ip": host_ip}) from None
    # What the engine answers when asked to bind an address the machine does not have.
    raise PublishError(
        _(
            "No se puede publicar en %(ip)s: esa dirección no existe en tu entorno. Usa "
            "127.0.0.1 o no pongas dirección (-p 8080:80)."
        )
        % {"ip": host_ip}
    )


def exposed_ports(config: dict[str, Any] | None) -> list[tuple[int, str]]:
    """Config.ExposedPorts of an inspected container, as (port, proto), TCP ones first."""
    out = []
    for key in (config or {}).get("ExposedPorts") or {}:
        match = _PORT_KEY.match(str(key))
        if match:
            out.append((int(match.group(1)), match.group(2) or "tcp"))
    return sorted(out, key=lambda item: (item[1] != "tcp", item[0]))


@dataclass(frozen=True)
class Published:
    """One binding with the host port it got at start."""

    container_port: int
    proto: str
    host_ip: str
    host_port: int


def _shown_ips(host_ip: str) -> list[str]:
    # Docker 20.10 binds both families when no address is given, and shows both.
    return ["0.0.0.0", "::"] if host_ip in ("", "0.0.0.0") else [host_ip]  # noqa: S104


def network_settings_ports(
    exposed: list[tuple[int, str]], published: list[Published]
) -> dict[str, Any]:
    """NetworkSettings.Ports of a running container, as the engine fills it."""
    ports: dict[str, Any] = {f"{port}/{proto}": None for port, proto in exposed}
    for item in published:
        key = f"{item.container_port}/{item.proto}"
        entries = ports.get(key) or []
        for ip in _shown_ips(item.host_ip):
            entries.append({"HostIp": ip, "HostPort": str(item.host_port)})
        ports[key] = entries
    return ports


def ps_ports(exposed: list[tuple[int, str]], published: list[Published]) -> list[dict[str, Any]]:
    """The `Ports` list of GET /containers/json for one container."""
    out: list[dict[str, Any]] = []
    bound = {(p.container_port, p.proto) for p in published}
    for item in published:
        for ip in _shown_ips(item.host_ip):
            out.append(
                {
                    "IP": ip,
                    "PrivatePort": item.container_port,
                    "PublicPort": item.host_port,
                    "Type": item.proto,
                }
            )
    for port, proto in exposed:
        if (port, proto) not in bound:
            out.append({"PrivatePort": port, "Type": proto})
    return out
