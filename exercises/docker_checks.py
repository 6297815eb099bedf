"""Judging the Docker-state check kinds against what the student's own gateway shows.

Each judge returns (passed, detail): the detail says what was found and why it is not yet right,
in Spanish. Everything shown comes from the student (names, labels, variables, file content) and
is hostile: `shown()` drops control and formatting characters and cuts it short, lists are capped,
and templates escape the result as usual.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exercises.docker_spec import (
    ComposeCheck,
    ContainerCheck,
    DockerCheck,
    ImageCheck,
    NetworkCheck,
    VolumeCheck,
)
from sandbox.student_docker import StudentDocker, read_volume_file

SHOWN_MAX = 60
LISTED_MAX = 6
Verdict = tuple[bool, str]


def shown(value: Any, limit: int = SHOWN_MAX) -> str:
    """A value the student controls, safe to put in a sentence: «…», one line, no control or
    bidirectional characters, at most `limit` characters."""
    text = "".join(
        " " if ch in "\t\n\r" else ("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf") else ch)
        for ch in str(value)[: limit * 4]
    )
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"«{text}»"


def listed(values: Iterable[Any], limit: int = LISTED_MAX) -> str:
    items = list(values)
    if not items:
        return _("ninguno")
    text = ", ".join(shown(v) for v in items[:limit])
    if len(items) > limit:
        rest = len(items) - limit
        text += " " + ngettext("y %(n)d más", "y %(n)d más", rest) % {"n": rest}
    return text


def image_key(ref: str) -> str:
    """`nginx`, `nginx:latest` and `docker.io/library/nginx:latest` compare equal."""
    ref = ref.strip().lower()
    for prefix in ("docker.io/", "index.docker.io/"):
        ref = ref.removeprefix(prefix)
    ref = ref.removeprefix("library/")
    if "@" not in ref and ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


def _names(summary: dict[str, Any]) -> list[str]:
    return [str(n).removeprefix("/") for n in summary.get("Names") or []]


async def judge(check: DockerCheck, view: StudentDocker, owner: str) -> Verdict:
    if isinstance(check, ContainerCheck):
        return await _container(check, view)
    if isinstance(check, ImageCheck):
        return await _image(check, view)
    if isinstance(check, VolumeCheck):
        return await _volume(check, view, owner)
    if isinstance(check, NetworkCheck):
        return await _network(check, view)
    return await _compose(check, view)


# --- contenedor ----------------------------------------------------------------------------------


async def _container(check: ContainerCheck, view: StudentDocker) -> Verdict:
    summaries = await view.containers()
    if check.name is not None:
        wanted = check.name.removeprefix("/")
        found = [s for s in summaries if wanted in _names(s)]
        label = _("El contenedor %(name)s") % {"name": shown(wanted)}
        if not found:
            if check.state == "no-existe":
                return True, ""
            others = sorted({n for s in summaries for n in _names(s)})
            return False, _(
                "No hay ningún contenedor llamado %(name)s. Contenedores que ves: %(others)s."
            ) % {"name": shown(wanted), "others": listed(others)}
    else:
        assert check.image is not None
        key = image_key(check.image)
        found = [s for s in summaries if image_key(str(s.get("Image") or "")) == key]
        if not found:
            if check.state == "no-existe":
                return True, ""
            images = sorted({str(s.get("Image") or "") for s in summaries})
            return False, _(
                "No hay ningún contenedor de la imagen %(image)s. Imágenes de tus contenedores: "
                "%(others)s."
            ) % {"image": shown(check.image), "others": listed(images)}
    if check.state == "no-existe":
        names = [n for s in found for n in _names(s)]
        return False, _("Todavía existe: %(names)s.") % {"names": listed(names)}
    reasons: list[str] = []
    for summary in found:
        info = await view.container(str(summary.get("Id") or ""))
        if info is None:  # removed meanwhile
            continue
        if check.image is not None:
            label = _("El contenedor %(name)s (de %(image)s)") % {
                "name": shown(", ".join(_names(summary))),
                "image": shown(check.image),
            }
        problems = container_problems(check, info)
        if not problems:
            return True, ""
        reasons.append(label + " " + "; ".join(problems) + ".")
    if not reasons:
        return False, _("El contenedor ya no existe.")
    if len(reasons) > 1:
        more = len(reasons) - 1
        return False, reasons[0] + " " + ngettext(
            "(Otro contenedor de esa imagen tampoco vale.)",
            "(Otros %(n)d contenedores de esa imagen tampoco valen.)",
            more,
        ) % {"n": more}
    return False, reasons[0]


def container_problems(check: ContainerCheck, info: dict[str, Any]) -> list[str]:
    """What in the container's inspect data is not as the check asks (empty: it passes)."""
    problems: list[str] = []
    state = info.get("State") or {}
    running = bool(state.get("Running"))
    code = state.get("ExitCode")
    if check.state == "en-marcha" and not running:
        problems.append(
            _("existe pero está parado (salió con el código %(code)s)") % {"code": code}
        )
    elif check.state == "en-marcha" and state.get("Paused"):
        problems.append(_("está en pausa"))
    elif check.state == "parado" and running:
        problems.append(_("está en marcha; se esperaba que estuviera parado"))
    elif check.exit_code is not None and not running and code != check.exit_code:
        problems.append(
            _("salió con el código %(got)s; se esperaba %(want)d")
            % {"got": code, "want": check.exit_code}
        )
    if check.health is not None:
        health = (state.get("Health") or {}).get("Status")
        if not health:
            problems.append(_("no tiene HEALTHCHECK (ni en su imagen ni en docker run)"))
        elif health != check.health:
            problems.append(
                _("su estado de salud es %(got)s, no %(want)s")
                % {"got": shown(health), "want": shown(check.health)}
            )
    host = info.get("HostConfig") or {}
    config = info.get("Config") or {}
    if check.port is not None:
        bindings = _port_bindings(info)
        published = bindings.get(f"{check.port.container}/{check.port.protocol}")
        host_ports = {str(b.get("HostPort") or "") for b in published or []}
        if published is None:
            problems.append(
                _("no publica el puerto %(port)s del contenedor; publica: %(all)s")
                % {"port": check.port.text().split(":")[-1], "all": listed(_published(bindings))}
            )
        elif check.port.host is not None and str(check.port.host) not in host_ports:
            problems.append(
                _("publica el puerto %(port)s en %(hosts)s, no en el %(want)d")
                % {
                    "port": f"{check.port.container}/{check.port.protocol}",
                    "hosts": listed(sorted(host_ports)),
                    "want": check.port.host,
                }
            )
    if check.mount is not None:
        mounts = info.get("Mounts") or []
        wanted = check.mount
        match = [
            m
            for m in mounts
            if m.get("Destination") == wanted.destination
            and (not wanted.bind or m.get("Type") == "bind")
            and (
                wanted.volume is None
                or (m.get("Type") == "volume" and m.get("Name") == wanted.volume)
            )
        ]
        if not match:
            have = [_mount_text(m) for m in mounts]
            problems.append(
                _("no monta %(want)s; monta: %(have)s")
                % {"want": shown(_wanted_mount_text(check)), "have": listed(have)}
            )
    if check.network is not None:
        networks = sorted((info.get("NetworkSettings") or {}).get("Networks") or {})
        if check.network not in networks:
            problems.append(
                _("no está conectado a la red %(net)s; está en: %(have)s")
                % {"net": shown(check.network), "have": listed(networks)}
            )
    if check.restart is not None:
        policy = (host.get("RestartPolicy") or {}).get("Name") or "no"
        if policy != check.restart:
            problems.append(
                _("su política de reinicio es %(got)s, no %(want)s")
                % {"got": shown(policy), "want": shown(check.restart)}
            )
    if check.env is not None and check.env not in (config.get("Env") or []):
        key = check.env.split("=", 1)[0]
        current = [e for e in config.get("Env") or [] if str(e).split("=", 1)[0] == key]
        if current:
            problems.append(
                _("tiene %(got)s en su entorno, no %(want)s")
                % {"got": shown(current[0]), "want": shown(check.env)}
            )
        else:
            problems.append(_("no tiene la variable %(key)s en su entorno") % {"key": shown(key)})
    return problems


def _port_bindings(info: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Published ports, "80/tcp" -> [{"HostPort": "8080"}]: what the student asked for (as
    HostConfig records it) and what the engine reports."""
    merged: dict[str, list[dict[str, Any]]] = {}
    sources = [
        (info.get("HostConfig") or {}).get("PortBindings") or {},
        (info.get("NetworkSettings") or {}).get("Ports") or {},
    ]
    for source in sources:
        for port, bindings in source.items():
            if bindings:
                merged.setdefault(str(port), []).extend(b for b in bindings if isinstance(b, dict))
    return merged


def _published(bindings: dict[str, list[dict[str, Any]]]) -> list[str]:
    return sorted(
        {f"{b.get('HostPort')}:{port}" for port, items in bindings.items() for b in items}
    )


def _mount_text(mount: dict[str, Any]) -> str:
    if mount.get("Type") == "volume":
        return f"{mount.get('Name')}:{mount.get('Destination')}"
    if mount.get("Type") == "bind":
        return f"bind:{mount.get('Destination')}"
    return str(mount.get("Destination") or "")


def _wanted_mount_text(check: ContainerCheck) -> str:
    assert check.mount is not None
    if check.mount.volume:
        return f"{check.mount.volume}:{check.mount.destination}"
    if check.mount.bind:
        return f"bind:{check.mount.destination}"
    return check.mount.destination


# --- imagen --------------------------------------------------------------------------------------


def _command_text(value: Sequence[str] | str | None) -> str:
    if value is None:
        return _("(ninguno)")
    if isinstance(value, str):
        return value
    return "[" + ", ".join(f'"{part}"' for part in value) + "]"


def same_command(actual: list[str] | None, wanted: tuple[str, ...] | str) -> bool:
    actual = list(actual or [])
    if isinstance(wanted, tuple):
        return actual == list(wanted)
    joined = " ".join(wanted.split())
    shell_form = actual[:2] == ["/bin/sh", "-c"] and len(actual) == 3
    return " ".join(" ".join(actual).split()) == joined or (
        shell_form and " ".join(actual[2].split()) == joined
    )


async def _image(check: ImageCheck, view: StudentDocker) -> Verdict:
    info = await view.image(check.name)
    if info is None:
        if not check.exists:
            return True, ""
        tags = sorted(
            {
                t
                for i in await view.images()
                for t in i.get("RepoTags") or []
                if t != "<none>:<none>"
            }
        )
        return False, _("No hay ninguna imagen %(name)s. Imágenes que ves: %(tags)s.") % {
            "name": shown(check.name),
            "tags": listed(tags),
        }
    if not check.exists:
        return False, _("La imagen %(name)s todavía existe.") % {"name": shown(check.name)}
    config = info.get("Config") or {}
    problems: list[str] = []
    for key, wanted, actual in (
        ("CMD", check.cmd, config.get("Cmd")),
        ("ENTRYPOINT", check.entrypoint, config.get("Entrypoint")),
    ):
        if wanted is not None and not same_command(actual, wanted):
            problems.append(
                _("tiene %(key)s %(got)s; se esperaba %(want)s")
                % {
                    "key": key,
                    "got": shown(_command_text(actual), 120),
                    "want": shown(_command_text(wanted), 120),
                }
            )
    if check.user is not None and str(config.get("User") or "") != check.user:
        problems.append(
            _("su USER es %(got)s; se esperaba %(want)s")
            % {"got": shown(config.get("User") or "root"), "want": shown(check.user)}
        )
    if check.label is not None:
        labels = config.get("Labels") or {}
        key, equals, value = check.label.partition("=")
        if key not in labels:
            problems.append(
                _("no tiene la etiqueta %(key)s; tiene: %(have)s")
                % {"key": shown(key), "have": listed(sorted(labels))}
            )
        elif equals and str(labels[key]) != value:
            problems.append(
                _("su etiqueta %(key)s vale %(got)s, no %(want)s")
                % {"key": shown(key), "got": shown(labels[key]), "want": shown(value)}
            )
    if check.exposes is not None:
        exposed = sorted(config.get("ExposedPorts") or {})
        if check.exposes not in exposed:
            problems.append(
                _("no expone el puerto %(port)s; expone: %(have)s")
                % {"port": check.exposes, "have": listed(exposed)}
            )
    if check.env is not None and check.env not in (config.get("Env") or []):
        problems.append(_("no tiene %(want)s en su ENV") % {"want": shown(check.env)})
    if check.workdir is not None and (config.get("WorkingDir") or "/") != check.workdir:
        problems.append(
            _("su WORKDIR es %(got)s; se esperaba %(want)s")
            % {"got": shown(config.get("WorkingDir") or "/"), "want": shown(check.workdir)}
        )
    if problems:
        return False, _("La imagen %(name)s %(problems)s.") % {
            "name": shown(check.name),
            "problems": "; ".join(problems),
        }
    return True, ""


# --- volumen -------------------------------------------------------------------------------------


async def _volume(check: VolumeCheck, view: StudentDocker, owner: str) -> Verdict:
    info = await view.volume(check.name)
    if info is None:
        if not check.exists:
            return True, ""
        names = sorted(str(v.get("Name")) for v in await view.volumes())
        return False, _("No hay ningún volumen llamado %(name)s. Volúmenes que ves: %(names)s.") % {
            "name": shown(check.name),
            "names": listed(names),
        }
    if not check.exists:
        return False, _("El volumen %(name)s todavía existe.") % {"name": shown(check.name)}
    if check.path is None:
        return True, ""
    cap = settings.SANDBOX_RUN_OUTPUT_CAP
    read = await read_volume_file(owner, view, check.name, check.path, cap)
    where = {"name": shown(check.name), "path": shown(check.path)}
    if read.kind == "missing":
        return False, _("El volumen %(name)s existe, pero no tiene el archivo %(path)s.") % where
    if read.kind != "file":
        return False, _("En el volumen %(name)s, %(path)s no es un archivo.") % where
    if check.contains is not None and check.contains not in read.data.decode("utf-8", "replace"):
        detail = _("El archivo %(path)s del volumen %(name)s no contiene %(text)s.") % {
            **where,
            "text": shown(check.contains),
        }
        if read.truncated:
            detail += " " + _("(Solo se leyó el principio: el archivo es muy grande.)")
        return False, detail
    return True, ""


# --- red -----------------------------------------------------------------------------------------


async def _network(check: NetworkCheck, view: StudentDocker) -> Verdict:
    info = await view.network(check.name)
    if info is not None and str(info.get("Name") or "") != check.name:
        info = None  # an id prefix that happens to match: not the network named so
    if info is None:
        if not check.exists:
            return True, ""
        names = sorted(str(n.get("Name")) for n in await view.networks())
        return False, _("No hay ninguna red llamada %(name)s. Redes que ves: %(names)s.") % {
            "name": shown(check.name),
            "names": listed(names),
        }
    if not check.exists:
        return False, _("La red %(name)s todavía existe.") % {"name": shown(check.name)}
    problems: list[str] = []
    attached = sorted(
        str(c.get("Name") or "").removeprefix("/") for c in (info.get("Containers") or {}).values()
    )
    missing = [c for c in check.containers if c not in attached]
    if missing:
        problems.append(
            _("no tiene conectados: %(missing)s (tiene: %(have)s)")
            % {"missing": listed(missing), "have": listed(attached)}
        )
    if check.internal is not None and bool(info.get("Internal")) != check.internal:
        problems.append(_("no es interna") if check.internal else _("es interna"))
    if problems:
        return False, _("La red %(name)s %(problems)s.") % {
            "name": shown(check.name),
            "problems": "; ".join(problems),
        }
    return True, ""


# --- compose -------------------------------------------------------------------------------------

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


async def _compose(check: ComposeCheck, view: StudentDocker) -> Verdict:
    summaries = await view.containers()
    projects = sorted(
        {str((s.get("Labels") or {}).get(PROJECT_LABEL)) for s in summaries} - {"None"}
    )
    mine = [s for s in summaries if (s.get("Labels") or {}).get(PROJECT_LABEL) == check.project]
    if not mine:
        return False, _(
            "No hay ningún contenedor del proyecto de Compose %(project)s. Proyectos que ves: "
            "%(projects)s."
        ) % {"project": shown(check.project), "projects": listed(projects)}
    running = {
        str((s.get("Labels") or {}).get(SERVICE_LABEL)) for s in mine if s.get("State") == "running"
    }
    missing = [service for service in check.services if service not in running]
    if missing:
        return False, _(
            "En el proyecto %(project)s no están en marcha: %(missing)s. En marcha: %(running)s."
        ) % {
            "project": shown(check.project),
            "missing": listed(missing),
            "running": listed(sorted(running)),
        }
    return True, ""
