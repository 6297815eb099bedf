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
    AnswerFromDocker,
    ComposeCheck,
    ContainerCheck,
    DockerCheck,
    ImageCheck,
    NetworkCheck,
    RegistryCheck,
    VolumeCheck,
)
from sandbox.student_docker import DockerStateUnavailable, StudentDocker, read_volume_file

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


def listed(values: Iterable[Any], limit: int = LISTED_MAX, *, feminine: bool = False) -> str:
    """The values for a message; «ninguno», or «ninguna» for feminine nouns (redes, imágenes,
    etiquetas: «Redes que ves: ninguno» read wrong)."""
    items = list(values)
    if not items:
        return _("ninguna") if feminine else _("ninguno")
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
    if isinstance(check, RegistryCheck):
        return await _registry(check, view)
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
            ) % {"image": shown(check.image), "others": listed(images, feminine=True)}
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
        problems += await _inside_problems(check, info, view)
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
    if check.state == "en-marcha" and state.get("Status") == "created":
        problems.append(_("existe pero nunca se ha arrancado (está creado: usa docker start)"))
    elif check.state == "en-marcha" and not running:
        problems.append(
            _("existe pero está parado (salió con el código %(code)s)") % {"code": code}
        )
    elif check.state == "en-marcha" and state.get("Paused"):
        problems.append(_("está en pausa"))
    elif check.state == "parado" and running:
        problems.append(_("está en marcha; se esperaba que estuviera parado"))
    elif check.state == "creado" and state.get("Status") != "created":
        problems.append(
            _("está %(got)s; se esperaba creado sin arrancar (created)")
            % {"got": shown(state.get("Status") or "")}
        )
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
    if check.restarts is not None and info.get("RestartCount") != check.restarts:
        problems.append(
            _("Docker lo ha reiniciado %(got)s veces; se esperaban %(want)d")
            % {"got": info.get("RestartCount"), "want": check.restarts}
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
        elif wanted.read_only is not None and not any(
            bool(m.get("RW", True)) != wanted.read_only for m in match
        ):
            problems.append(
                _("monta %(where)s en solo lectura; se esperaba lectura y escritura")
                % {"where": shown(wanted.destination)}
                if not wanted.read_only
                else _("monta %(where)s en lectura y escritura; se esperaba solo lectura (:ro)")
                % {"where": shown(wanted.destination)}
            )
    networks = sorted((info.get("NetworkSettings") or {}).get("Networks") or {})
    if check.network is not None and check.network not in networks:
        problems.append(
            _("no está conectado a la red %(net)s; está en: %(have)s")
            % {"net": shown(check.network), "have": listed(networks, feminine=True)}
        )
    if check.not_network is not None and check.not_network in networks:
        problems.append(
            _("está conectado a la red %(net)s, y no debe estarlo (está en: %(have)s)")
            % {"net": shown(check.not_network), "have": listed(networks, feminine=True)}
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


async def _inside_problems(
    check: ContainerCheck, info: dict[str, Any], view: StudentDocker
) -> list[str]:
    """What inside the container (its files, its processes) is not as the check asks: files
    through the archive endpoint `docker cp` uses, processes through `docker top` (GETs)."""
    problems: list[str] = []
    container = str(info.get("Id") or "")
    if check.file is not None:
        cap = settings.SANDBOX_RUN_OUTPUT_CAP
        read = await view.read_file(container, check.file, cap)
        where = shown(check.file)
        if read.kind == "missing":
            problems.append(_("no tiene %(path)s") % {"path": where})
        elif check.file_contains is not None and read.kind != "file":
            problems.append(_("tiene %(path)s, pero no es un archivo") % {"path": where})
        elif check.file_contains is not None:
            text = read.data.decode("utf-8", "replace")
            if check.file_contains not in text:
                problem = _("tiene %(path)s, pero no contiene %(want)s; empieza así: %(start)s") % {
                    "path": where,
                    "want": shown(check.file_contains),
                    "start": shown(text, 80),
                }
                if read.truncated:
                    problem += " " + _("(solo se leyó el principio: el archivo es muy grande)")
                problems.append(problem)
    if check.no_file is not None:
        read = await view.read_file(container, check.no_file, 1)
        if read.kind != "missing":
            problems.append(_("tiene %(path)s, y no debe tenerlo") % {"path": shown(check.no_file)})
    if check.process is not None and (info.get("State") or {}).get("Running"):
        top = await view.processes(container)
        commands = _commands(top)
        if not any(check.process.search(command) for command in commands):
            problems.append(
                _("ningún proceso suyo encaja con %(want)s; tiene: %(have)s")
                % {"want": shown(check.process.pattern), "have": listed(commands, 4)}
            )
    return problems


def _commands(top: dict[str, Any] | None) -> list[str]:
    """The command line of each process `docker top` lists (its CMD or COMMAND column)."""
    if not top:
        return []
    titles = [str(t) for t in top.get("Titles") or []]
    column = next((titles.index(t) for t in ("CMD", "COMMAND") if t in titles), -1)
    return [
        str(row[column])
        for row in top.get("Processes") or []
        if isinstance(row, list) and row and len(row) > column
    ]


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
        # In the order the view gives (the student's own images first), each tag once.
        tags = list(
            dict.fromkeys(
                t
                for i in await view.images()
                for t in i.get("RepoTags") or []
                if t != "<none>:<none>"
            )
        )
        return False, _("No hay ninguna imagen %(name)s. Imágenes que ves: %(tags)s.") % {
            "name": shown(check.name),
            "tags": listed(tags, feminine=True),
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
    if check.user is not None and str(config.get("User") or "") not in check.user:
        problems.append(
            _("su USER es %(got)s; se esperaba %(want)s")
            % {
                "got": shown(config.get("User") or "root"),
                "want": _(" o ").join(shown(user) for user in check.user),
            }
        )
    if check.label is not None:
        labels = config.get("Labels") or {}
        key, equals, value = check.label.partition("=")
        if key not in labels:
            problems.append(
                _("no tiene la etiqueta %(key)s; tiene: %(have)s")
                % {"key": shown(key), "have": listed(sorted(labels), feminine=True)}
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
    problems += await _image_more_problems(check, info, view)
    if problems:
        return False, _("La imagen %(name)s: %(problems)s.") % {
            "name": shown(check.name),
            "problems": "; ".join(problems),
        }
    return True, ""


async def _image_more_problems(
    check: ImageCheck, info: dict[str, Any], view: StudentDocker
) -> list[str]:
    """Identity (same or other image ID), HEALTHCHECK, layers, size and parent."""
    problems: list[str] = []
    config = info.get("Config") or {}
    image_id = str(info.get("Id") or "")
    for other, same in ((check.same_as, True), (check.differs_from, False)):
        if other is None:
            continue
        other_info = await view.image(other)
        if other_info is None:
            problems.append(
                _("no se puede comparar con %(other)s: no existe") % {"other": shown(other)}
            )
        elif (str(other_info.get("Id") or "") == image_id) != same:
            problems.append(
                (
                    _("es otra imagen que %(other)s (ID %(got)s, y %(other)s tiene %(want)s)")
                    if same
                    else _("es la misma imagen que %(other)s (las dos tienen el ID %(got)s)")
                )
                % {
                    "other": shown(other),
                    "got": shown(_short_id(image_id)),
                    "want": shown(_short_id(str(other_info.get("Id") or ""))),
                }
            )
    if check.healthcheck is not None:
        test = (config.get("Healthcheck") or {}).get("Test") or []
        if not test or test == ["NONE"]:
            problems.append(_("no tiene HEALTHCHECK"))
        elif check.healthcheck not in " ".join(str(part) for part in test):
            problems.append(
                _("su HEALTHCHECK es %(got)s, que no contiene %(want)s")
                % {"got": shown(_command_text(test), 120), "want": shown(check.healthcheck)}
            )
    if check.layer is not None:
        layers = [
            str(item.get("CreatedBy") or "") for item in await view.image_history(check.name) or []
        ]
        if not any(check.layer in layer for layer in layers):
            problems.append(
                _("no tiene ninguna capa hecha con %(want)s; la de arriba se hizo con %(top)s")
                % {"want": shown(check.layer), "top": shown(layers[0] if layers else "", 120)}
            )
    if check.max_mb is not None:
        size = int(info.get("Size") or 0)
        if size >= check.max_mb * 1_000_000:
            problems.append(
                _("ocupa %(got)s MB; debe ocupar menos de %(want)d MB")
                % {"got": f"{size / 1_000_000:.1f}", "want": check.max_mb}
            )
    if check.parent is not None and bool(info.get("Parent")) != check.parent:
        problems.append(
            _("no tiene imagen padre (se bajó de un registro); se esperaba una construida aquí")
            if check.parent
            else _("tiene una imagen padre, la de su construcción: se construyó aquí, no se bajó")
        )
    return problems


def _short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


# --- respuesta con dato ------------------------------------------------------------------------


async def answer_value(source: AnswerFromDocker, view: StudentDocker) -> tuple[str | None, str]:
    """The expected answer from a field of the student's container, or (None, why not)."""
    name = source.container
    found = [s for s in await view.containers() if name in _names(s)]
    info = await view.container(str(found[0].get("Id") or "")) if found else None
    if info is None:
        return None, _("No hay ningún contenedor llamado %(name)s.") % {"name": shown(name)}
    state = info.get("State") or {}
    if source.field == "codigo":
        if state.get("Running") or state.get("Status") == "created":
            return None, _("El contenedor %(name)s todavía no ha terminado.") % {
                "name": shown(name)
            }
        return str(state.get("ExitCode")), ""
    if source.field == "reinicios":
        return str(info.get("RestartCount")), ""
    if source.field == "estado":
        return str(state.get("Status") or ""), ""
    if source.field == "ip":
        networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
        address = (networks.get(source.network) or {}).get("IPAddress")
        if not address:
            return None, _(
                "El contenedor %(name)s no tiene dirección en la red %(net)s; está en: %(have)s."
            ) % {
                "name": shown(name),
                "net": shown(source.network),
                "have": listed(sorted(networks), feminine=True),
            }
        return str(address), ""
    if source.field == "puerto":
        assert source.port is not None
        inside = f"{source.port.container}/{source.port.protocol}"
        bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(inside) or []
        ports = [str(b.get("HostPort") or "") for b in bindings if isinstance(b, dict)]
        if not any(ports):
            return None, _("El contenedor %(name)s no publica su puerto %(port)s.") % {
                "name": shown(name),
                "port": inside,
            }
        return next(p for p in ports if p), ""
    assert source.extract is not None
    tty = bool((info.get("Config") or {}).get("Tty"))
    raw = await view.logs(str(info.get("Id") or ""), tty, settings.SANDBOX_RUN_OUTPUT_CAP)
    text = (raw or b"").decode("utf-8", "replace")
    match = source.extract.search(text)
    if match is None:
        return None, _(
            "En lo que escribió %(name)s no aparece lo que buscamos; empieza así: %(start)s"
        ) % {
            "name": shown(name),
            "start": shown(text, 80),
        }
    return (match.group(1) if match.groups() else match.group(0)), ""


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
    if check.free is not None:
        users = sorted(
            {
                name
                for summary in await view.containers()
                if any(
                    m.get("Type") == "volume" and m.get("Name") == check.name
                    for m in summary.get("Mounts") or []
                )
                for name in _names(summary)
            }
        )
        if check.free and users:
            return False, _("El volumen %(name)s lo usan todavía: %(users)s.") % {
                "name": shown(check.name),
                "users": listed(users),
            }
        if not check.free and not users:
            return False, _("Ningún contenedor usa el volumen %(name)s.") % {
                "name": shown(check.name)
            }
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
            "names": listed(names, feminine=True),
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


# --- registro ------------------------------------------------------------------------------------


async def _registry(check: RegistryCheck, view: StudentDocker) -> Verdict:
    try:
        found = await view.search(check.repository)
    except DockerStateUnavailable:
        return False, _(
            "No se pudo consultar el registro del curso (puede que no responda ahora mismo); "
            "vuelve a intentarlo en un rato."
        )
    names = [str(item.get("name") or "") for item in found]
    mine = [item for item in found if str(item.get("name") or "") == check.repository]
    if not mine:
        return False, _(
            "El registro del curso no tiene %(name)s. Lo que has subido y se parece: %(names)s."
        ) % {"name": shown(check.repository), "names": listed(names)}
    if check.tag is None:
        return True, ""
    # The gateway lists a repository's tags in its description: "etiquetas: 1, 2".
    description = str(mine[0].get("description") or "")
    tags = [t.strip() for t in description.partition(":")[2].split(",") if t.strip()]
    if check.tag not in tags:
        return False, _(
            "El registro del curso tiene %(name)s, pero sin la etiqueta %(tag)s; tiene: %(tags)s."
        ) % {
            "name": shown(check.repository),
            "tag": shown(check.tag),
            "tags": listed(tags, feminine=True),
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
