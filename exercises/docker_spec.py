"""The check kinds that look at the student's Docker state: their keys, validation and parsed form.

exercises.spec validates the keys every check shares and hands each of these kinds here; the
parsed dataclasses are judged by exercises.docker_checks (docs/exercises.md has the vocabulary).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

Report = Callable[[tuple[str | int, ...], str], None]

CHECK_KEYS = {
    "contenedor": {
        "nombre",
        "imagen",
        "estado",
        "codigo",
        "puerto",
        "montaje",
        "red",
        "reinicio",
        "entorno",
        "salud",
        "reinicios",
        "archivo",
        "contiene",
        "sin_archivo",
        "proceso",
        "sin_red",
    },
    "imagen": {
        "nombre",
        "existe",
        "cmd",
        "entrypoint",
        "usuario",
        "etiqueta",
        "expone",
        "variable",
        "directorio",
        "misma_que",
        "distinta_de",
        "healthcheck",
        "capa",
        "menos_de_mb",
        "padre",
    },
    "volumen": {"nombre", "existe", "archivo", "contiene", "libre"},
    "red": {"nombre", "existe", "contenedores", "interna"},
    "compose": {"proyecto", "servicios"},
    "registro": {"nombre", "etiqueta"},
    "http": {"puerto", "ruta", "contiene", "coincide", "codigo"},
}

STATES = ("en-marcha", "parado", "creado", "no-existe")
# `respuesta` keys whose expected answer is a field of a container, as the student's gateway shows
# it (exercises.docker_checks.answer_value), instead of the output of a CLI run in the sandbox.
ANSWER_KEYS = {"contenedor", "dato", "red", "puerto", "extrae"}
# What `dato` names, and the extra key each one needs.
ANSWER_FIELDS = {
    "codigo": None,
    "reinicios": None,
    "estado": None,
    "ip": "red",
    "puerto": "puerto",
    "registro": "extrae",
}
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
# Docker's own words for a HEALTHCHECK's verdict, as `docker ps` shows them to the student.
HEALTH_STATES = ("healthy", "unhealthy", "starting")
_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
_PORT = re.compile(r"^(?:(?P<host>\d{1,5}):)?(?P<container>\d{1,5})(?:/(?P<proto>tcp|udp|sctp))?$")
_EXPOSE = re.compile(r"^(?P<port>\d{1,5})(?:/(?P<proto>tcp|udp|sctp))?$")
_ENV = re.compile(r"^[^=\s]+=")
_HTTP_PATH = re.compile(r"^/[\x21-\x7e]{0,1999}$")


# --- The parsed form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PortSpec:
    container: int
    protocol: str = "tcp"
    host: int | None = None  # None: published on any host port

    def text(self) -> str:
        inside = f"{self.container}/{self.protocol}"
        return f"{self.host}:{inside}" if self.host is not None else inside


@dataclass(frozen=True)
class MountSpec:
    destination: str
    volume: str | None = None  # a named volume
    bind: bool = False  # a folder of the host (bind mount)
    read_only: bool | None = None  # ":ro" / ":rw" at the end; None: either


@dataclass(frozen=True)
class ContainerCheck:
    """`contenedor`: a container (by name, or any of an image) is in a state and set up so."""

    index: int
    ok: str
    error: str
    name: str | None
    image: str | None
    state: str  # one of STATES
    exit_code: int | None
    port: PortSpec | None
    mount: MountSpec | None
    network: str | None
    restart: str | None
    env: str | None
    health: str | None = None  # one of HEALTH_STATES
    restarts: int | None = None  # RestartCount
    file: str | None = None  # an absolute path that must exist inside the container
    file_contains: str | None = None  # ... and hold this text (a regular file then)
    no_file: str | None = None  # an absolute path that must not exist inside it
    process: re.Pattern[str] | None = None  # some process (docker top) matches
    not_network: str | None = None  # a network it must not be attached to


@dataclass(frozen=True)
class ImageCheck:
    """`imagen`: an image tag exists (or not) with a given CMD, ENTRYPOINT, USER, label..."""

    index: int
    ok: str
    error: str
    name: str
    exists: bool
    cmd: tuple[str, ...] | str | None
    entrypoint: tuple[str, ...] | str | None
    user: tuple[str, ...] | None  # any of them
    label: str | None
    exposes: str | None  # "80/tcp"
    env: str | None
    workdir: str | None
    same_as: str | None = None  # another image reference with the same image ID
    differs_from: str | None = None  # an existing image reference with another ID
    healthcheck: str | None = None  # text in its HEALTHCHECK command
    layer: str | None = None  # text in the instruction of one of its layers (docker history)
    max_mb: int | None = None  # size below this many MB (10^6 bytes, as docker images shows)
    parent: bool | None = None  # has a parent image (built here) or not (pulled)


@dataclass(frozen=True)
class AnswerFromDocker:
    """Where a `respuesta` check's expected answer comes from: a field of the student's
    container `container` (see ANSWER_FIELDS), read through their gateway."""

    container: str
    field: str
    network: str | None = None  # for "ip"
    port: PortSpec | None = None  # for "puerto": the container's port
    extract: re.Pattern[str] | None = None  # for "registro": first match in the log


@dataclass(frozen=True)
class VolumeCheck:
    """`volumen`: a volume exists (or not), optionally holding a file with a text."""

    index: int
    ok: str
    error: str
    name: str
    exists: bool
    path: str | None
    contains: str | None
    free: bool | None = None  # no container of the student mounts it (True) or some does


@dataclass(frozen=True)
class NetworkCheck:
    """`red`: a network exists (or not), with containers attached."""

    index: int
    ok: str
    error: str
    name: str
    exists: bool
    containers: tuple[str, ...]
    internal: bool | None


@dataclass(frozen=True)
class ComposeCheck:
    """`compose`: each listed service of a Compose project has a running container."""

    index: int
    ok: str
    error: str
    project: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class HttpCheck:
    """`http`: GET http://localhost:PORT/PATH from inside the student's sandbox answers so."""

    index: int
    ok: str
    error: str
    port: int
    path: str
    contains: str | None
    status: int
    matches: re.Pattern[str] | None = None  # a regular expression found in the page


@dataclass(frozen=True)
class RegistryCheck:
    """`registro`: the course registry has the student's repository, with a tag if given."""

    index: int
    ok: str
    error: str
    repository: str  # as the student pushed it: registro.muelle/saludo
    tag: str | None


DockerCheck = (
    ContainerCheck | ImageCheck | VolumeCheck | NetworkCheck | ComposeCheck | RegistryCheck
)
# The same, for isinstance(): judged from the student's gateway, not in the sandbox.
DOCKER_KINDS = (
    ContainerCheck,
    ImageCheck,
    VolumeCheck,
    NetworkCheck,
    ComposeCheck,
    RegistryCheck,
)
StateCheck = DockerCheck | HttpCheck


# --- Validation ----------------------------------------------------------------------------------


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _user_form(value: Any) -> bool:
    """A user as USER takes it, or several that all mean the same one (`[alumno, 1000]`: the
    name and its number both run as that user)."""
    if isinstance(value, list):
        return bool(value) and all(_text(v) or _int(v) for v in value)
    return _text(value) or _int(value)


def _port_number(text: str | None) -> bool:
    return text is not None and 1 <= int(text) <= 65535


def parse_port(value: Any) -> PortSpec | None:
    """`"8080:80"`, `"80"`, `80`, `"53/udp"`; None when it is not one of those."""
    text = str(value).strip() if _int(value) or isinstance(value, str) else ""
    match = _PORT.fullmatch(text)
    if not match or not _port_number(match["container"]):
        return None
    if match["host"] is not None and not _port_number(match["host"]):
        return None
    host = int(match["host"]) if match["host"] is not None else None
    return PortSpec(int(match["container"]), match["proto"] or "tcp", host)


def parse_mount(value: Any) -> MountSpec | None:
    """`"notas:/datos"`, `"/datos"`, `"bind:/datos"`, each optionally ending in `:ro` (mounted
    read-only) or `:rw`; None when it is not one of those."""
    if not _text(value):
        return None
    text = str(value).strip()
    read_only = None
    for suffix, flag in ((":ro", True), (":rw", False)):
        if text.endswith(suffix):
            text, read_only = text.removesuffix(suffix), flag
    source, colon, destination = text.rpartition(":")
    if not destination.startswith("/"):
        return None
    if not colon:
        return MountSpec(destination, read_only=read_only)
    if source == "bind":
        return MountSpec(destination, bind=True, read_only=read_only)
    if not _NAME.fullmatch(source):
        return None
    return MountSpec(destination, volume=source, read_only=read_only)


def exposed_port(value: Any) -> str | None:
    text = str(value).strip() if _int(value) or isinstance(value, str) else ""
    match = _EXPOSE.fullmatch(text)
    if not match or not _port_number(match["port"]):
        return None
    return f"{int(match['port'])}/{match['proto'] or 'tcp'}"


def _command_form(value: Any) -> bool:
    return _text(value) or (
        isinstance(value, list) and all(isinstance(part, str) for part in value)
    )


def validate(
    kind: str, check: Mapping[str, Any], path: tuple[str | int, ...], report: Report
) -> None:
    """Reports every problem of one check of a Docker-state kind (keys already known-good)."""
    {
        "contenedor": _validate_container,
        "imagen": _validate_image,
        "volumen": _validate_volume,
        "red": _validate_network,
        "compose": _validate_compose,
        "http": _validate_http,
        "registro": _validate_registry,
    }[kind](check, path, report)


def _name_key(
    check: Mapping[str, Any], key: str, path: tuple[str | int, ...], report: Report
) -> None:
    if key in check and not (_text(check[key]) and _NAME.fullmatch(str(check[key]).strip())):
        report(
            (*path, key),
            _("«%(key)s» debe ser un nombre de Docker: letras, números, «_», «.» o «-»")
            % {"key": key},
        )


def _exists_key(
    check: Mapping[str, Any], path: tuple[str | int, ...], report: Report, kind: str
) -> None:
    if "existe" in check and not isinstance(check["existe"], bool):
        report((*path, "existe"), _("«existe» debe ser true o false"))
    if check.get("existe") is False:
        extra = sorted(set(check) - {"tipo", "ok", "error", "nombre", "existe"})
        if extra:
            report(
                path,
                _("si %(kind)s no debe existir, sobran: %(keys)s")
                % {"kind": kind, "keys": ", ".join(extra)},
            )


def _keys_must(
    check: Mapping[str, Any],
    keys: tuple[str, ...],
    valid: Callable[[Any], bool],
    message: str,
    path: tuple[str | int, ...],
    report: Report,
) -> None:
    """Reports `message` (which names the key as %(key)s) for each of `keys` that the check has
    with a value `valid` refuses."""
    for key in keys:
        if key in check and not valid(check[key]):
            report((*path, key), message % {"key": key})


def _env_key(
    check: Mapping[str, Any], key: str, path: tuple[str | int, ...], report: Report
) -> None:
    if key in check and not (isinstance(check[key], str) and _ENV.match(check[key])):
        report((*path, key), _("«%(key)s» debe ser «CLAVE=valor»") % {"key": key})


def _validate_container(
    check: Mapping[str, Any], path: tuple[str | int, ...], report: Report
) -> None:
    given = [key for key in ("nombre", "imagen") if key in check]
    if len(given) != 1:
        report(
            path, _("una comprobación «contenedor» necesita exactamente una de: nombre o imagen")
        )
    _name_key(check, "nombre", path, report)
    if "imagen" in check and not _text(check["imagen"]):
        report((*path, "imagen"), _("«imagen» debe ser el nombre de una imagen"))
    state = check.get("estado", "en-marcha")
    if state not in STATES:
        report(
            (*path, "estado"),
            _("«estado» debe ser uno de: %(states)s") % {"states": ", ".join(STATES)},
        )
    if state == "no-existe":
        extra = sorted(set(check) - {"tipo", "ok", "error", "nombre", "imagen", "estado"})
        if extra:
            report(
                path,
                _("si el contenedor no debe existir, sobran: %(keys)s")
                % {"keys": ", ".join(extra)},
            )
    if "codigo" in check:
        code = check["codigo"]
        if not _int(code) or not 0 <= code <= 255:
            report((*path, "codigo"), _("«codigo» debe ser un número de 0 a 255"))
        if state in ("en-marcha", "creado") and "estado" in check:
            report(
                (*path, "codigo"),
                _("«codigo» es el código con el que salió: no vale con «estado: %(state)s»")
                % {"state": state},
            )
    if "puerto" in check and parse_port(check["puerto"]) is None:
        report(
            (*path, "puerto"),
            _(
                '«puerto» debe ser «ANFITRIÓN:CONTENEDOR» (p. ej. "8080:80") o el puerto del '
                'contenedor ("80"), con números de 1 a 65535'
            ),
        )
    if "montaje" in check and parse_mount(check["montaje"]) is None:
        report(
            (*path, "montaje"),
            _(
                "«montaje» debe ser «volumen:/destino», «bind:/destino» o solo «/destino» (una "
                "ruta absoluta)"
            ),
        )
    _name_key(check, "red", path, report)
    if "reinicio" in check and check["reinicio"] not in RESTART_POLICIES:
        report(
            (*path, "reinicio"),
            _("«reinicio» debe ser uno de: %(values)s") % {"values": ", ".join(RESTART_POLICIES)},
        )
    _env_key(check, "entorno", path, report)
    if "salud" in check and check["salud"] not in HEALTH_STATES:
        report(
            (*path, "salud"),
            _("«salud» debe ser uno de: %(values)s") % {"values": ", ".join(HEALTH_STATES)},
        )
    if "reinicios" in check and not (_int(check["reinicios"]) and check["reinicios"] >= 0):
        report((*path, "reinicios"), _("«reinicios» debe ser un número entero, 0 o más"))
    _keys_must(
        check,
        ("archivo", "sin_archivo"),
        _absolute_path,
        _("«%(key)s» debe ser una ruta absoluta dentro del contenedor (/web/index.html)"),
        path,
        report,
    )
    if "contiene" in check:
        if not _text(check["contiene"]):
            report((*path, "contiene"), _("«contiene» debe ser un texto no vacío"))
        if "archivo" not in check:
            report(path, _("«contiene» necesita «archivo» (qué archivo del contenedor leer)"))
    if "proceso" in check:
        _regex_key(check, "proceso", path, report)
    _name_key(check, "sin_red", path, report)
    if state == "creado" and "proceso" in check:
        report(
            (*path, "proceso"),
            _(
                "un contenedor creado sin arrancar no tiene procesos: «proceso» no vale con "
                "«estado: creado»"
            ),
        )


def _absolute_path(value: Any) -> bool:
    return (
        _text(value) and str(value).startswith("/") and not any(ch in str(value) for ch in "\0\n\r")
    )


def _regex_key(
    check: Mapping[str, Any], key: str, path: tuple[str | int, ...], report: Report
) -> re.Pattern[str] | None:
    value = check[key]
    if not _text(value):
        report((*path, key), _("«%(key)s» debe ser una expresión regular (texto)") % {"key": key})
        return None
    try:
        return re.compile(value, re.MULTILINE)
    except re.error as exc:
        report(
            (*path, key),
            _("expresión regular no válida %(regex)r: %(error)s") % {"regex": value, "error": exc},
        )
        return None


def _image_ref(value: Any) -> bool:
    return _text(value) and not any(c.isspace() for c in str(value).strip())


def _validate_image(check: Mapping[str, Any], path: tuple[str | int, ...], report: Report) -> None:
    if not _text(check.get("nombre")) or any(c.isspace() for c in str(check["nombre"]).strip()):
        report(path, _("una comprobación «imagen» necesita «nombre» (repositorio[:etiqueta])"))
    _exists_key(check, path, report, _("la imagen"))
    _keys_must(
        check,
        ("cmd", "entrypoint"),
        _command_form,
        _('«%(key)s» debe ser una lista como ["python", "app.py"] o un texto'),
        path,
        report,
    )
    if "usuario" in check and not _user_form(check["usuario"]):
        report(
            (*path, "usuario"),
            _("«usuario» debe ser un nombre o un número, o una lista de ellos (alumno y 1000)"),
        )
    _keys_must(
        check,
        ("etiqueta", "directorio"),
        _text,
        _("«%(key)s» debe ser un texto no vacío"),
        path,
        report,
    )
    if "directorio" in check and _text(check["directorio"]):
        if not str(check["directorio"]).startswith("/"):
            report((*path, "directorio"), _("«directorio» debe ser una ruta absoluta (/app)"))
    if "expone" in check and exposed_port(check["expone"]) is None:
        report((*path, "expone"), _('«expone» debe ser un puerto: "80", "80/tcp" o "53/udp"'))
    _env_key(check, "variable", path, report)
    _keys_must(
        check,
        ("misma_que", "distinta_de"),
        _image_ref,
        _("«%(key)s» debe ser el nombre de otra imagen (repositorio[:etiqueta])"),
        path,
        report,
    )
    _keys_must(
        check,
        ("healthcheck", "capa"),
        _text,
        _("«%(key)s» debe ser un texto no vacío"),
        path,
        report,
    )
    if "menos_de_mb" in check and not (_int(check["menos_de_mb"]) and check["menos_de_mb"] > 0):
        report((*path, "menos_de_mb"), _("«menos_de_mb» debe ser un número entero de MB, 1 o más"))
    if "padre" in check and not isinstance(check["padre"], bool):
        report((*path, "padre"), _("«padre» debe ser true o false"))


def validate_answer(check: Mapping[str, Any], path: tuple[str | int, ...], report: Report) -> None:
    """A `respuesta` whose expected answer is a field of a container (`contenedor` + `dato`)."""
    if "contenedor" not in check:
        report(path, _("«dato» necesita «contenedor» (de qué contenedor sale la respuesta)"))
    _name_key(check, "contenedor", path, report)
    field = check.get("dato")
    if not isinstance(field, str) or field not in ANSWER_FIELDS:
        report(
            (*path, "dato") if "dato" in check else path,
            _("«dato» debe ser uno de: %(values)s") % {"values": ", ".join(ANSWER_FIELDS)},
        )
        return
    needed = ANSWER_FIELDS[field]
    for key in sorted(set(check) & (ANSWER_KEYS - {"contenedor", "dato"})):
        if key != needed:
            report(
                (*path, key),
                _("«%(key)s» no vale con «dato: %(field)s»") % {"key": key, "field": field},
            )
    if needed is not None and needed not in check:
        report(path, _("«dato: %(field)s» necesita «%(key)s»") % {"field": field, "key": needed})
    elif needed == "red":
        _name_key(check, "red", path, report)
    elif needed == "puerto":
        port = parse_port(check["puerto"])
        if port is None or port.host is not None:
            report(
                (*path, "puerto"), _('«puerto» debe ser el puerto del contenedor: "80" o "53/udp"')
            )
    elif needed == "extrae":
        _regex_key(check, "extrae", path, report)


def _validate_volume(check: Mapping[str, Any], path: tuple[str | int, ...], report: Report) -> None:
    if "nombre" not in check:
        report(path, _("una comprobación «volumen» necesita «nombre»"))
    _name_key(check, "nombre", path, report)
    _exists_key(check, path, report, _("el volumen"))
    if "archivo" in check and not _text(check["archivo"]):
        report((*path, "archivo"), _("«archivo» debe ser una ruta dentro del volumen"))
    if "contiene" in check:
        if not _text(check["contiene"]):
            report((*path, "contiene"), _("«contiene» debe ser un texto no vacío"))
        if "archivo" not in check:
            report(path, _("«contiene» necesita «archivo» (qué archivo del volumen leer)"))
    if "libre" in check and not isinstance(check["libre"], bool):
        report((*path, "libre"), _("«libre» debe ser true o false"))


def _validate_network(
    check: Mapping[str, Any], path: tuple[str | int, ...], report: Report
) -> None:
    if "nombre" not in check:
        report(path, _("una comprobación «red» necesita «nombre»"))
    _name_key(check, "nombre", path, report)
    _exists_key(check, path, report, _("la red"))
    if "contenedores" in check:
        value = check["contenedores"]
        if (
            not isinstance(value, list)
            or not value
            or not all(_text(v) and _NAME.fullmatch(str(v).strip()) for v in value)
        ):
            report(
                (*path, "contenedores"),
                _("«contenedores» debe ser una lista de nombres de contenedores"),
            )
    if "interna" in check and not isinstance(check["interna"], bool):
        report((*path, "interna"), _("«interna» debe ser true o false"))


def _validate_compose(
    check: Mapping[str, Any], path: tuple[str | int, ...], report: Report
) -> None:
    if not _text(check.get("proyecto")):
        report(path, _("una comprobación «compose» necesita «proyecto»"))
    services = check.get("servicios")
    if not isinstance(services, list) or not services or not all(_text(s) for s in services):
        report(
            (*path, "servicios") if "servicios" in check else path,
            _("una comprobación «compose» necesita «servicios»: una lista de nombres de servicio"),
        )


_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\.[a-z0-9-]+)+(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _validate_registry(
    check: Mapping[str, Any], path: tuple[str | int, ...], report: Report
) -> None:
    name = check.get("nombre")
    if not (isinstance(name, str) and _REPOSITORY.fullmatch(name.strip())):
        report(
            (*path, "nombre") if "nombre" in check else path,
            _(
                "una comprobación «registro» necesita «nombre»: el repositorio con el nombre del "
                "registro y sin etiqueta (registro.muelle/saludo)"
            ),
        )
    tag = check.get("etiqueta")
    if "etiqueta" in check and not (
        (isinstance(tag, str) or _int(tag)) and _TAG.fullmatch(str(tag))
    ):
        report((*path, "etiqueta"), _("«etiqueta» debe ser una etiqueta de Docker (1, v2, latest)"))


def _validate_http(check: Mapping[str, Any], path: tuple[str | int, ...], report: Report) -> None:
    port = check.get("puerto")
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port)
    if not (isinstance(port, int) and _int(port) and 1 <= port <= 65535):
        report(
            (*path, "puerto") if "puerto" in check else path,
            _("una comprobación «http» necesita «puerto»: un número de 1 a 65535"),
        )
    if "ruta" in check and not (
        isinstance(check["ruta"], str) and _HTTP_PATH.fullmatch(check["ruta"])
    ):
        report(
            (*path, "ruta"),
            _("«ruta» debe empezar por «/» y no tener espacios (p. ej. /index.html)"),
        )
    if "contiene" in check and not _text(check["contiene"]):
        report((*path, "contiene"), _("«contiene» debe ser un texto no vacío"))
    if "codigo" in check and not (_int(check["codigo"]) and 100 <= check["codigo"] <= 599):
        report((*path, "codigo"), _("«codigo» debe ser un código HTTP (100-599)"))
    if "coincide" in check:
        _regex_key(check, "coincide", path, report)


# --- Parsing -------------------------------------------------------------------------------------


def _strip(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _users(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(str(v).strip() for v in (value if isinstance(value, list) else [value]))


def _command(value: Any) -> tuple[str, ...] | str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(str(part) for part in value)
    return str(value).strip()


def parse(kind: str, index: int, ok: str, error: str, raw: Mapping[str, Any]) -> StateCheck:
    """The parsed check; `raw` has been validated."""
    head = (index, ok, error)
    # The image, volume, network and registry kinds all name their object with `nombre`.
    name = str(raw.get("nombre", "")).strip()
    exists = raw.get("existe", True)
    if kind == "contenedor":
        code = raw.get("codigo")
        state = raw.get("estado") or ("parado" if code is not None else "en-marcha")
        return ContainerCheck(
            *head,
            name=_strip(raw.get("nombre")),
            image=_strip(raw.get("imagen")),
            state=state,
            exit_code=code,
            port=parse_port(raw["puerto"]) if "puerto" in raw else None,
            mount=parse_mount(raw["montaje"]) if "montaje" in raw else None,
            network=_strip(raw.get("red")),
            restart=raw.get("reinicio"),
            env=raw.get("entorno"),
            health=raw.get("salud"),
            restarts=raw.get("reinicios"),
            file=raw.get("archivo"),
            file_contains=raw.get("contiene"),
            no_file=raw.get("sin_archivo"),
            process=re.compile(raw["proceso"], re.MULTILINE) if "proceso" in raw else None,
            not_network=_strip(raw.get("sin_red")),
        )
    if kind == "imagen":
        return ImageCheck(
            *head,
            name=name,
            exists=exists,
            cmd=_command(raw.get("cmd")),
            entrypoint=_command(raw.get("entrypoint")),
            user=_users(raw.get("usuario")),
            label=_strip(raw.get("etiqueta")),
            exposes=exposed_port(raw["expone"]) if "expone" in raw else None,
            env=raw.get("variable"),
            workdir=_strip(raw.get("directorio")),
            same_as=_strip(raw.get("misma_que")),
            differs_from=_strip(raw.get("distinta_de")),
            healthcheck=raw.get("healthcheck"),
            layer=raw.get("capa"),
            max_mb=raw.get("menos_de_mb"),
            parent=raw.get("padre"),
        )
    if kind == "volumen":
        return VolumeCheck(
            *head,
            name=name,
            exists=exists,
            path=_strip(raw.get("archivo")),
            contains=raw.get("contiene"),
            free=raw.get("libre"),
        )
    if kind == "red":
        return NetworkCheck(
            *head,
            name=name,
            exists=exists,
            containers=tuple(
                str(c).strip().removeprefix("/") for c in raw.get("contenedores") or ()
            ),
            internal=raw.get("interna"),
        )
    if kind == "compose":
        return ComposeCheck(
            *head,
            project=str(raw["proyecto"]).strip(),
            services=tuple(str(s).strip() for s in raw["servicios"]),
        )
    if kind == "registro":
        return RegistryCheck(
            *head,
            repository=name,
            tag=None if raw.get("etiqueta") is None else str(raw["etiqueta"]),
        )
    return HttpCheck(
        *head,
        port=int(raw["puerto"]),
        path=raw.get("ruta", "/"),
        contains=raw.get("contiene"),
        status=raw.get("codigo", 200),
        matches=re.compile(raw["coincide"], re.MULTILINE) if "coincide" in raw else None,
    )


def parse_answer(raw: Mapping[str, Any]) -> AnswerFromDocker:
    """The source of a `respuesta` with `contenedor` + `dato`; `raw` has been validated."""
    return AnswerFromDocker(
        container=str(raw["contenedor"]).strip().removeprefix("/"),
        field=raw["dato"],
        network=_strip(raw.get("red")),
        port=parse_port(raw["puerto"]) if "puerto" in raw else None,
        extract=re.compile(raw["extrae"], re.MULTILINE) if "extrae" in raw else None,
    )
