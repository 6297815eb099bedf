"""What a student's container may be: every create, update and exec is rebuilt from a checked copy.

The output is built field by field from the canonical request (canonical_json): a field is
copied after checking, rewritten (names, limits), or refused unless empty. Every HostConfig and
Config field of API 1.41 has a rule here; tests check that none is missing, so a new field can
never pass through unchecked. Then the hardening is imposed whatever was asked: capabilities
dropped to an allowlist, no-new-privileges, memory/CPU/pids limits, no swap, bounded logs, the
student's labels.

Why one module of about 900 lines: the policy is one table, read top to bottom (the field
helpers, then the rule of every field), so a reviewer sees in one place that nothing passes
unchecked; its parts are small functions, not state that would be easier to follow apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.utils.translation import gettext as _

from sandbox import project_volume
from sandbox.ports import bindings as port_bindings

from . import health_interval, project, quotas
from .errors import GatewayError, bad_request, refused
from .names import OBJECT_NAME, is_reserved_label
from .schemas import CONTAINER_CONFIG_FIELDS, HOST_CONFIG_FIELDS
from .student import Student

NO_NEW_PRIVILEGES = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
_TMPFS_OPTION = re.compile(
    r"^(rw|ro|noexec|exec|nosuid|nodev|mode=[0-7]{3,4}|[ug]id=\d+)\Z", re.ASCII
)
# A tmpfs size is parsed by the kernel, not by Docker: the engine hands `size=...` to mount(2)
# unchanged, and the kernel's memparse() reads a number (decimal, 0x hex or 0 octal) and one
# optional unit letter k/m/g/t/p/e in either case (checked on the engine: 3M and 3m mount, 3MB,
# 3MiB and 1.5m fail when the container starts).
_KERNEL_SIZE = re.compile(r"^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kmgtpeKMGTPE]?)\Z")
_KERNEL_UNITS = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
MAX_RESTART_RETRIES = 10
# go-units v0.4 (vendored by the 20.10 engine): its sizeRegex and binary multiples.
_RAM_SIZE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?\Z", re.ASCII)
_RAM_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_MAC_ADDRESS = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}\Z")
_CPUSET = re.compile(r"^[0-9,-]{0,64}\Z")
_ABSOLUTE = re.compile(r"^/[^\x00]*\Z")

# Flags as the student typed them, to name what was refused.
FLAGS = {
    "Privileged": "--privileged",
    "Devices": "--device",
    "DeviceCgroupRules": "--device-cgroup-rule",
    "DeviceRequests": "--gpus",
    "Sysctls": "--sysctl",
    "StorageOpt": "--storage-opt",
    "Links": "--link",
    "CgroupParent": "--cgroup-parent",
    "Cgroup": "--cgroup",
    "KernelMemory": "--kernel-memory",
    "KernelMemoryTCP": "--kernel-memory-tcp",
    "OomKillDisable": "--oom-kill-disable",
    "BlkioWeightDevice": "--blkio-weight-device",
    "BlkioDeviceReadBps": "--device-read-bps",
    "BlkioDeviceWriteBps": "--device-write-bps",
    "BlkioDeviceReadIOps": "--device-read-iops",
    "BlkioDeviceWriteIOps": "--device-write-iops",
    "CpuRealtimePeriod": "--cpu-rt-period",
    "CpuRealtimeRuntime": "--cpu-rt-runtime",
    "CpuPeriod": "--cpu-period",
    "CpuQuota": "--cpu-quota",
    "MaskedPaths": "--security-opt systempaths=unconfined",
    "ReadonlyPaths": "--security-opt systempaths=unconfined",
    "CpuCount": "--cpu-count",
    "CpuPercent": "--cpu-percent",
    "IOMaximumIOps": "--io-maxiops",
    "IOMaximumBandwidth": "--io-maxbandwidth",
}


class ImageNotFound(GatewayError):
    """The one 404 `containers/create` may give: the CLI then asks to pull, and the pull policy
    explains itself."""


def mib(value: int) -> str:
    return f"{value / 1024**2:.0f} MiB"


def _not_allowed(flag: str, why: str) -> GatewayError:
    return refused(_("%(flag)s no está permitido en Muelle: %(why)s") % {"flag": flag, "why": why})


def _zero_reason(field: str) -> str:
    if field in ("Privileged",):
        return _("un contenedor privilegiado tendría acceso completo al servidor.")
    if field.startswith("Device") or field.startswith("Blkio"):
        return _("los dispositivos del servidor no están disponibles para los contenedores.")
    if field in ("MaskedPaths", "ReadonlyPaths"):
        return _("las rutas protegidas de /proc y /sys siguen protegidas siempre.")
    if field == "Links":
        return _("--link es antiguo; crea una red (docker network create) y usa los nombres.")
    if field in ("CpuPeriod", "CpuQuota"):
        return _("usa --cpus para limitar la CPU.")
    return _("Muelle fija este ajuste por seguridad.")


def _require_zero(field: str, value: Any) -> None:
    if value in (None, 0, "", False, [], {}):
        return
    raise _not_allowed(FLAGS.get(field, field), _zero_reason(field))


# --- capabilities and security options ----------------------------------------------------------
def _cap_name(cap: str) -> str:
    name = cap.strip().upper()
    return name[4:] if name.startswith("CAP_") else name


def capabilities(student: Student, cap_add: list[str], cap_drop: list[str]) -> list[str]:
    allowed = student.config.cap_allowlist
    added = {_cap_name(c) for c in cap_add}
    dropped = {_cap_name(c) for c in cap_drop}
    extra = sorted(added - allowed)
    if extra:
        raise _not_allowed(
            f"--cap-add {', '.join(extra)}",
            _("solo se pueden añadir estas capacidades: %(caps)s.")
            % {"caps": ", ".join(sorted(allowed))},
        )
    base = set() if "ALL" in dropped else allowed - dropped
    return sorted(base | added)


def security_opts(values: list[str]) -> list[str]:
    for value in values:
        if value.strip().lower() not in NO_NEW_PRIVILEGES:
            raise _not_allowed(
                f"--security-opt {value}",
                _(
                    "Muelle mantiene siempre el perfil seccomp, AppArmor y no-new-privileges; "
                    "solo se admite «no-new-privileges»."
                ),
            )
    return ["no-new-privileges"]


def _namespace_mode(flag: str, value: str, allowed: tuple[str, ...]) -> str:
    if value in allowed:
        return value
    if value == "host":
        raise _not_allowed(
            f"{flag} host",
            _("compartiría un espacio de nombres del servidor con tu contenedor."),
        )
    raise _not_allowed(f"{flag} {value}", _("este modo no está disponible."))


# --- resources ------------------------------------------------------------------------------------
def memory_limit(student: Student, requested: int | None) -> int:
    limit = student.config.container_memory
    if not requested:
        return limit
    if requested < 0 or requested > limit:
        raise _not_allowed(
            f"-m/--memory {mib(requested)}",
            _("el máximo por contenedor es %(max)s.") % {"max": mib(limit)},
        )
    return requested


def nano_cpus(student: Student, requested: int | None) -> int:
    limit = int(student.config.container_cpus * 1e9)
    if not requested:
        return limit
    if requested < 0 or requested > limit:
        raise _not_allowed(
            f"--cpus {requested / 1e9:g}",
            _("el máximo por contenedor es %(max)g.") % {"max": student.config.container_cpus},
        )
    return requested


def pids_limit(student: Student, requested: int | None) -> int:
    limit = student.config.container_pids
    if not requested or requested < 0:
        return limit
    if requested > limit:
        raise _not_allowed(
            f"--pids-limit {requested}",
            _("el máximo por contenedor es %(max)d.") % {"max": limit},
        )
    return requested


def ulimits(student: Student, requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
    caps = {"nofile": student.config.container_nofile, "nproc": student.config.container_pids}
    out = {"nofile": {"Name": "nofile", "Soft": caps["nofile"], "Hard": caps["nofile"]}}
    for item in requested:
        name = item.get("Name", "")
        soft, hard = item.get("Soft", 0), item.get("Hard", 0)
        if name not in caps or not (0 <= soft <= hard <= caps[name]):
            raise _not_allowed(
                f"--ulimit {name}={soft}:{hard}",
                _("solo se admiten nofile hasta %(nofile)d y nproc hasta %(nproc)d.")
                % {"nofile": caps["nofile"], "nproc": caps["nproc"]},
            )
        out[name] = {"Name": name, "Soft": soft, "Hard": hard}
    return list(out.values())


def restart_policy(value: dict[str, Any]) -> dict[str, Any]:
    name = value.get("Name", "")
    retries = value.get("MaximumRetryCount", 0)
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise bad_request(_("--restart no válido: «%(name)s».") % {"name": name})
    if retries < 0:
        raise bad_request(
            _("--restart %(name)s:%(n)d no válido: el número de reintentos no puede ser negativo.")
            % {"name": name, "n": retries}
        )
    if retries > MAX_RESTART_RETRIES:
        # A container that keeps failing would restart for ever on a shared engine.
        raise _not_allowed(
            f"--restart {name}:{retries}",
            _("como máximo se admiten %(max)d reintentos (por ejemplo, on-failure:%(max)d).")
            % {"max": MAX_RESTART_RETRIES},
        )
    return {"Name": name, "MaximumRetryCount": retries}


def ram_in_bytes(text: str) -> int | None:
    """go-units RAMInBytes, as the engine's json-file and local log drivers read `max-size`:
    a decimal number, an optional space, one optional unit k/m/g/t/p in either case with an
    optional `i` and `b` (`500k`, `1.5M`, `2 MiB`, `1048576`); binary multiples; None if invalid."""
    match = _RAM_SIZE.match(text)
    if not match:
        return None
    try:
        number = float(match.group(1))
    except ValueError:  # "1.2.3" matches the pattern but is no number, as in Go
        return None
    return int(number * 1024 ** _RAM_UNITS[(match.group(3) or "").lower()])


def log_config(student: Student, value: dict[str, Any]) -> dict[str, Any]:
    """The student's log options as written (inspect shows what they asked), within Muelle's
    bound: logs are kept on the host, at most SANDBOX_LOG_MAX_SIZE, one file. With no
    `max-size`, Muelle's bound is set (the engine would keep logs without limit)."""
    kind = value.get("Type", "") or "json-file"
    if kind not in ("json-file", "local", "none"):
        raise _not_allowed(
            f"--log-driver {kind}",
            _("los registros de los contenedores se guardan solo en el servidor (json-file)."),
        )
    if kind == "none":
        return {"Type": "none", "Config": {}}
    cap_text = student.config.log_max_size
    cap = ram_in_bytes(cap_text) or 0
    given = dict(value.get("Config") or {})
    for key, text in given.items():
        if key == "max-size":
            size = ram_in_bytes(text)
            if size is None or size <= 0:
                raise bad_request(
                    _("--log-opt max-size=%(v)s no válido: escribe un tamaño como 500k o 1m.")
                    % {"v": text}
                )
            if size > cap:
                raise _not_allowed(
                    f"--log-opt max-size={text}",
                    _("los registros de un contenedor ocupan como máximo %(max)s.")
                    % {"max": cap_text},
                )
        elif key == "max-file":
            if text != "1":
                raise _not_allowed(
                    f"--log-opt max-file={text}",
                    _("los registros de un contenedor se guardan en un solo fichero."),
                )
        elif not (key == "compress" and text in ("true", "false")):
            raise _not_allowed(
                f"--log-opt {key}",
                _("solo se admiten max-size (hasta %(max)s), max-file=1 y compress.")
                % {"max": cap_text},
            )
    given.setdefault("max-size", cap_text)
    if kind == "local":
        given.setdefault("max-file", "1")  # the local driver keeps 5 files by default
    return {"Type": kind, "Config": given}


def resources(student: Student, src: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Resources for create (partial=False: every limit set) or update (only what was asked)."""
    out: dict[str, Any] = {}
    for field in (
        "CgroupParent",
        "KernelMemory",
        "KernelMemoryTCP",
        "OomKillDisable",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
        "Devices",
        "DeviceCgroupRules",
        "DeviceRequests",
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
        "CpuPeriod",
        "CpuQuota",
    ):
        _require_zero(field, src.get(field))
    if not partial or src.get("Memory"):  # a student's MemorySwap is ignored: swap = memory
        out["Memory"] = memory_limit(student, src.get("Memory"))
        out["MemorySwap"] = out["Memory"]  # no swap: the memory limit is the limit
    if not partial or src.get("NanoCpus"):
        out["NanoCpus"] = nano_cpus(student, src.get("NanoCpus"))
    if not partial or "PidsLimit" in src:
        out["PidsLimit"] = pids_limit(student, src.get("PidsLimit"))
    if "MemoryReservation" in src:
        reservation = src["MemoryReservation"]
        if not 0 <= reservation <= student.config.container_memory:
            raise bad_request(_("--memory-reservation no válido."))
        out["MemoryReservation"] = reservation
    if "MemorySwappiness" in src:
        if not -1 <= src["MemorySwappiness"] <= 100:
            raise bad_request(_("--memory-swappiness debe estar entre 0 y 100."))
        out["MemorySwappiness"] = src["MemorySwappiness"]
    if "CpuShares" in src:
        if not 0 <= src["CpuShares"] <= 1024:
            raise bad_request(_("--cpu-shares debe estar entre 2 y 1024."))
        out["CpuShares"] = src["CpuShares"]
    if "BlkioWeight" in src:
        if not 0 <= src["BlkioWeight"] <= 1000:
            raise bad_request(_("--blkio-weight debe estar entre 10 y 1000."))
        out["BlkioWeight"] = src["BlkioWeight"]
    for field in ("CpusetCpus", "CpusetMems"):
        if field in src:
            if not _CPUSET.match(src[field]):
                raise bad_request(_("%(field)s no válido.") % {"field": field})
            out[field] = src[field]
    if not partial or "Ulimits" in src:
        out["Ulimits"] = ulimits(student, src.get("Ulimits") or [])
    return out


# --- mounts -----------------------------------------------------------------------------------
def _host_path_refusal(source: str) -> GatewayError:
    if "docker.sock" in source or source.rstrip("/") in ("/var/run", "/run"):
        return _not_allowed(
            f"-v {source}",
            _("el socket de Docker del servidor nunca se monta en un contenedor."),
        )
    return _not_allowed(
        f"-v {source}",
        _(
            "no se pueden montar carpetas del servidor. Usa un volumen con nombre, por ejemplo "
            "-v misdatos:/datos, o tu carpeta de proyecto entera: -v %(folder)s:/app."
        )
        % {"folder": project_volume.directory()},
    )


PENDING_VOLUMES = "\0pending-volumes"


def _volume_name(
    out: dict[str, Any], student: Student, name: str, labels: dict[str, str] | None = None
) -> str:
    """The engine name of the student's volume `name`; created later, once everything passed."""
    out.setdefault(PENDING_VOLUMES, []).append((name, labels or {}))
    return student.ns.object_prefix + name


def _target(path: str) -> str:
    if not _ABSOLUTE.match(path) or path == "/":
        raise bad_request(_("Ruta de destino no válida en el contenedor: «%(p)s».") % {"p": path})
    return path


def binds(student: Student, values: list[str], pending: dict[str, Any]) -> list[str]:
    out = []
    for value in values:
        parts = value.split(":")
        source = parts[0]
        is_project = source.startswith("/") and project.is_project_source(source)
        if not is_project and (source.startswith(("/", ".", "~"))):
            raise _host_path_refusal(source)
        if len(parts) not in (2, 3) or not (is_project or OBJECT_NAME.match(source)):
            raise bad_request(_("-v no válido: «%(v)s».") % {"v": value})
        mode = parts[2] if len(parts) == 3 else ""
        if any(m not in ("ro", "rw", "nocopy") for m in mode.split(",") if m):
            raise _not_allowed(
                f"-v {value}", _("solo se admiten las opciones ro, rw y nocopy en los volúmenes.")
            )
        if is_project:
            # The sandbox's project volume, by name: the engine walks no host path.
            target = _target(parts[1])
            out.append(f"{project.volume_for(pending)}:{target}:{project.bind_options(mode)}")
            continue
        engine_name = _volume_name(pending, student, source)
        out.append(":".join([engine_name, _target(parts[1]), *([mode] if mode else [])]))
    return out


def mounts(
    student: Student, values: list[dict[str, Any]], pending: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for mount in values:
        kind = mount.get("Type", "")
        source = mount.get("Source", "")
        _require_zero("BindOptions", mount.get("BindOptions"))
        item: dict[str, Any] = {"Type": kind, "Target": _target(mount.get("Target", ""))}
        if "ReadOnly" in mount:
            item["ReadOnly"] = mount["ReadOnly"]
        if kind == "volume":
            options = mount.get("VolumeOptions") or {}
            if options.get("DriverConfig") not in (None, {}):
                raise _not_allowed(
                    "--mount volume-driver/volume-opt",
                    _("los volúmenes usan siempre el driver local sin opciones."),
                )
            labels = options.get("Labels") or {}
            _check_labels(labels)
            if source:
                if source.startswith("/"):
                    raise _host_path_refusal(source)
                if not OBJECT_NAME.match(source):
                    # As -v's names: the engine would refuse it too, but only once the prefixed
                    # name reached it (`../x` is no name the student can own).
                    raise bad_request(
                        _("--mount: nombre de volumen no válido: «%(v)s».") % {"v": source}
                    )
                item["Source"] = _volume_name(pending, student, source, labels)
            if options.get("NoCopy"):
                item["VolumeOptions"] = {"NoCopy": True}
        elif kind == "tmpfs":
            if source:
                raise bad_request(_("Un montaje tmpfs no lleva origen."))
            tmpfs = mount.get("TmpfsOptions") or {}
            size = tmpfs.get("SizeBytes", 0)
            if not 0 <= size <= student.config.container_memory:
                raise bad_request(_("Tamaño de tmpfs no válido."))
            item["TmpfsOptions"] = {k: v for k, v in tmpfs.items() if k in ("SizeBytes", "Mode")}
        elif kind == "bind" and source.startswith("/") and project.is_project_source(source):
            item["Type"] = "volume"
            item["Source"] = project.volume_for(pending)
            item["VolumeOptions"] = {"NoCopy": True}  # as a bind: the image's files stay out
        elif kind == "bind":
            raise _host_path_refusal(source or "type=bind")
        else:
            raise _not_allowed(f"--mount type={kind}", _("solo se admiten volume y tmpfs."))
        out.append(item)
    return out


def kernel_size(text: str) -> int | None:
    """Bytes for a tmpfs `size=`/`nr_inodes=` value as the kernel reads it; None if it would not."""
    match = _KERNEL_SIZE.match(text)
    if not match:
        return None
    number = match.group(1)
    if number[:2].lower() == "0x":
        base = 16
    elif number.startswith("0"):
        base = 8  # as strtoull with base 0: "010k" is 8 KiB
    else:
        base = 10
    return int(number, base) << _KERNEL_UNITS[match.group(2).lower()]


def tmpfs(student: Student, values: dict[str, str]) -> dict[str, str]:
    for path, options in values.items():
        _target(path)
        for option in (o for o in options.split(",") if o):
            key, _sep, value = option.partition("=")
            if key in ("size", "nr_inodes"):
                size = kernel_size(value)
                if size is None:
                    raise bad_request(
                        _(
                            "--tmpfs %(path)s: %(key)s=%(value)s no válido. Escribe un número y, "
                            "si quieres, una unidad: k, m o g (en mayúsculas o minúsculas), por "
                            "ejemplo %(key)s=64m."
                        )
                        % {"path": path, "key": key, "value": value}
                    )
                if key == "size" and size > student.config.container_memory:
                    raise _not_allowed(
                        f"--tmpfs {path}:{option}",
                        _("un tmpfs ocupa memoria: el máximo es %(max)s.")
                        % {"max": mib(student.config.container_memory)},
                    )
            elif not _TMPFS_OPTION.match(option):
                raise _not_allowed(
                    f"--tmpfs {path}:{options}",
                    _(
                        "opciones de tmpfs admitidas: rw, ro, exec, noexec, nosuid, nodev, "
                        "size, nr_inodes, mode, uid, gid."
                    ),
                )
    return values


def _check_labels(labels: dict[str, str]) -> None:
    reserved = sorted(k for k in labels if is_reserved_label(k))
    if reserved:
        raise refused(
            _("Las etiquetas «muelle.*» están reservadas para Muelle: %(labels)s")
            % {"labels": ", ".join(reserved)}
        )


def labels(student: Student, given: dict[str, str] | None) -> dict[str, str]:
    given = given or {}
    _check_labels(given)
    return {**given, **student.ns.labels}


# --- networks -------------------------------------------------------------------------------------
async def network_mode(student: Student, value: str) -> str:
    if value in ("", "default", "none"):
        return "none"  # a student's container has no network unless it joins one of theirs
    if value == "host":
        raise _not_allowed(
            "--network host", _("compartiría la red del servidor con tu contenedor.")
        )
    if value == "bridge":
        raise _not_allowed(
            "--network bridge",
            _(
                "la red bridge del servidor no está disponible; crea la tuya con "
                "docker network create mired y usa --network mired."
            ),
        )
    if value.startswith("container:"):
        return "container:" + await student.container_id(value.removeprefix("container:"))
    return (await student.network(value))["Name"]


async def _shared_namespace(
    student: Student, flag: str, value: str, allowed: tuple[str, ...]
) -> str:
    if value.startswith("container:"):
        return "container:" + await student.container_id(value.removeprefix("container:"))
    return _namespace_mode(flag, value, allowed)


def _endpoint(settings: dict[str, Any]) -> dict[str, Any]:
    _require_zero("Links", settings.get("Links"))
    if settings.get("DriverOpts"):
        raise _not_allowed("--driver-opt", _("Muelle no admite opciones del driver de red."))
    out: dict[str, Any] = {}
    if settings.get("Aliases"):
        for alias in settings["Aliases"]:
            if not OBJECT_NAME.match(alias):
                raise bad_request(_("Alias de red no válido: «%(a)s».") % {"a": alias})
        out["Aliases"] = settings["Aliases"]
    if settings.get("IPAMConfig"):
        out["IPAMConfig"] = settings["IPAMConfig"]
    if settings.get("MacAddress"):
        # A student may pick the address on their own (internal) networks, as on their Docker;
        # only the plain 6-byte form, which is what `docker network connect` documents.
        if not _MAC_ADDRESS.match(settings["MacAddress"]):
            raise bad_request(
                _("Dirección MAC no válida: «%(m)s». Escríbela así: 02:42:ac:11:00:02.")
                % {"m": settings["MacAddress"]}
            )
        out["MacAddress"] = settings["MacAddress"]
    return out


async def endpoints(student: Student, mode: str, given: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, settings in given.items():
        if name in ("none", "default") and mode == "none":
            continue  # newer CLIs name the default network explicitly
        network = await student.network(name)
        out[network["Name"]] = _endpoint(settings)
    return out


# --- the whole create -------------------------------------------------------------------------
Rule = Callable[[Student, dict[str, Any], dict[str, Any]], Awaitable[None]]


def _copy(key: str) -> Rule:
    async def rule(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
        if key in src:
            out[key] = src[key]

    return rule


def _zero(key: str) -> Rule:
    async def rule(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
        _require_zero(key, src.get(key))

    return rule


def _absent(key: str) -> Rule:
    """Even an empty list matters here: [] unmasks /proc and /sys paths."""

    async def rule(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
        if key in src:
            raise _not_allowed(FLAGS[key], _zero_reason(key))

    return rule


def _ignore(key: str) -> Rule:
    async def rule(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
        return None

    return rule


async def _volumes_map(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    if "Volumes" in src:
        for path in src["Volumes"]:
            _target(path)
        out["Volumes"] = src["Volumes"]


async def _image(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    ref = src.get("Image", "")
    resolved = await student.image(ref) if ref else None
    if resolved is None:
        # 404 on purpose: the CLI then asks to pull, and the pull policy explains itself.
        raise ImageNotFound(404, _("No existe la imagen: %(ref)s") % {"ref": ref})
    # The engine keeps Config.Image as written (`docker ps` shows `alpine`, not `alpine:latest`).
    out["Image"] = await student.image_as_written(ref, resolved)


async def _labels(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    out["Labels"] = labels(student, src.get("Labels"))


async def _healthcheck(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    if "Healthcheck" in src:
        health_interval.check_config(src["Healthcheck"])
        out["Healthcheck"] = src["Healthcheck"]


CONFIG_RULES: dict[str, Rule] = {
    **{
        k: _copy(k)
        for k in (
            "Hostname",
            "Domainname",
            "User",
            "AttachStdin",
            "AttachStdout",
            "AttachStderr",
            "ExposedPorts",
            "Tty",
            "OpenStdin",
            "StdinOnce",
            "Env",
            "Cmd",
            "ArgsEscaped",
            "WorkingDir",
            "Entrypoint",
            "NetworkDisabled",
            "MacAddress",
            "StopSignal",
            "StopTimeout",
            "Shell",
        )
    },
    "Healthcheck": _healthcheck,
    # A committed container keeps its OnBuild: triggers would run in later builds.
    "OnBuild": _zero("OnBuild"),
    "Volumes": _volumes_map,
    "Image": _image,
    "Labels": _labels,
}


async def _host_binds(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    if src.get("Binds"):
        out["Binds"] = binds(student, src["Binds"], out)


async def _host_mounts(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    if src.get("Mounts"):
        out["Mounts"] = mounts(student, src["Mounts"], out)


async def _host_tmpfs(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    if src.get("Tmpfs"):
        out["Tmpfs"] = tmpfs(student, src["Tmpfs"])


async def _host_network(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    out["NetworkMode"] = await network_mode(student, src.get("NetworkMode", ""))


async def _host_caps(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    out["CapAdd"] = capabilities(student, src.get("CapAdd") or [], src.get("CapDrop") or [])
    out["CapDrop"] = ["ALL"]


async def _host_security(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    out["SecurityOpt"] = security_opts(src.get("SecurityOpt") or [])


async def _host_ipc(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    value = src.get("IpcMode", "")
    out["IpcMode"] = (
        await _shared_namespace(student, "--ipc", value, ("", "private", "none", "shareable"))
        or "private"
    )


async def _host_pid(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    value = await _shared_namespace(student, "--pid", src.get("PidMode", ""), ("",))
    if value:
        out["PidMode"] = value


async def _host_uts(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    _namespace_mode("--uts", src.get("UTSMode", ""), ("",))


async def _host_userns(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    _namespace_mode("--userns", src.get("UsernsMode", ""), ("",))


async def _host_cgroupns(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    _namespace_mode("--cgroupns", src.get("CgroupnsMode", ""), ("", "private"))
    out["CgroupnsMode"] = "private"


async def _host_volumes_from(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    values = []
    for value in src.get("VolumesFrom") or []:
        ref, sep, mode = value.partition(":")
        if mode not in ("", "ro", "rw"):
            raise bad_request(_("--volumes-from no válido: «%(v)s».") % {"v": value})
        values.append(await student.container_id(ref) + (f":{mode}" if sep else ""))
    if values:
        out["VolumesFrom"] = values


async def _host_restart(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    if "RestartPolicy" in src:
        out["RestartPolicy"] = restart_policy(src["RestartPolicy"])


async def _host_log(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    out["LogConfig"] = log_config(student, src.get("LogConfig") or {})


async def _host_shm(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    size = src.get("ShmSize", 0)
    if not 0 <= size <= student.config.container_shm:
        raise _not_allowed(
            f"--shm-size {mib(size)}",
            _("el máximo es %(max)s.") % {"max": mib(student.config.container_shm)},
        )
    if size:
        out["ShmSize"] = size


async def _host_oom_score(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    value = src.get("OomScoreAdj", 0)
    if not 0 <= value <= 1000:
        raise _not_allowed(f"--oom-score-adj {value}", _("solo se admiten valores entre 0 y 1000."))
    if value:
        out["OomScoreAdj"] = value


PENDING_PUBLISH = "\0pending-publish"


async def _host_publish(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    """-p and -P never reach the engine (they would bind on the server): the request is kept,
    as written, in a label, and Muelle carries the ports itself (sandbox/ports)."""
    if PENDING_PUBLISH in out:
        return  # both keys share this rule; the first call handled both
    try:
        port_bindings.parse_port_bindings(src.get("PortBindings"))
    except port_bindings.PublishError as exc:
        raise bad_request(str(exc)) from None
    request = port_bindings.Request(
        dict(src.get("PortBindings") or {}), bool(src.get("PublishAllPorts"))
    )
    out[PENDING_PUBLISH] = request


def _fixed(key: str, allowed: tuple[Any, ...], flag: str) -> Rule:
    async def rule(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
        value = src.get(key, allowed[0])
        if value not in allowed:
            raise _not_allowed(f"{flag} {value}", _("Muelle fija este ajuste por seguridad."))
        if value:  # the engine keeps what was asked (inspect shows `default`, not '')
            out[key] = value

    return rule


async def _resources(student: Student, src: dict[str, Any], out: dict[str, Any]) -> None:
    out.update(resources(student, src, partial=False))


HOST_RULES: dict[str, Rule] = {
    "Binds": _host_binds,
    "Mounts": _host_mounts,
    "Tmpfs": _host_tmpfs,
    "ContainerIDFile": _ignore("ContainerIDFile"),  # client side only
    "LogConfig": _host_log,
    "NetworkMode": _host_network,
    "PortBindings": _host_publish,
    "PublishAllPorts": _host_publish,
    "RestartPolicy": _host_restart,
    "AutoRemove": _copy("AutoRemove"),
    "VolumeDriver": _fixed("VolumeDriver", ("", "local"), "--volume-driver"),
    "VolumesFrom": _host_volumes_from,
    "CapAdd": _host_caps,
    "CapDrop": _host_caps,
    "CgroupnsMode": _host_cgroupns,
    "Dns": _copy("Dns"),
    "DnsOptions": _copy("DnsOptions"),
    "DnsSearch": _copy("DnsSearch"),
    "ExtraHosts": _copy("ExtraHosts"),
    "GroupAdd": _copy("GroupAdd"),
    "IpcMode": _host_ipc,
    "Cgroup": _zero("Cgroup"),
    "Links": _zero("Links"),
    "OomScoreAdj": _host_oom_score,
    "PidMode": _host_pid,
    "Privileged": _zero("Privileged"),
    "ReadonlyRootfs": _copy("ReadonlyRootfs"),
    "SecurityOpt": _host_security,
    "StorageOpt": _zero("StorageOpt"),
    "UTSMode": _host_uts,
    "UsernsMode": _host_userns,
    "ShmSize": _host_shm,
    "Sysctls": _zero("Sysctls"),
    "Runtime": _fixed("Runtime", ("", "runc"), "--runtime"),
    "ConsoleSize": _copy("ConsoleSize"),
    "Isolation": _fixed("Isolation", ("", "default"), "--isolation"),
    "MaskedPaths": _absent("MaskedPaths"),
    "ReadonlyPaths": _absent("ReadonlyPaths"),
    "Init": _copy("Init"),
    # Every Resources field is handled together by resources().
    **{
        k: _resources
        for k in (
            "CpuShares",
            "Memory",
            "NanoCpus",
            "CgroupParent",
            "BlkioWeight",
            "BlkioWeightDevice",
            "BlkioDeviceReadBps",
            "BlkioDeviceWriteBps",
            "BlkioDeviceReadIOps",
            "BlkioDeviceWriteIOps",
            "CpuPeriod",
            "CpuQuota",
            "CpuRealtimePeriod",
            "CpuRealtimeRuntime",
            "CpusetCpus",
            "CpusetMems",
            "Devices",
            "DeviceCgroupRules",
            "DeviceRequests",
            "KernelMemory",
            "KernelMemoryTCP",
            "MemoryReservation",
            "MemorySwap",
            "MemorySwappiness",
            "OomKillDisable",
            "PidsLimit",
            "Ulimits",
            "CpuCount",
            "CpuPercent",
            "IOMaximumIOps",
            "IOMaximumBandwidth",
        )
    },
}

assert set(CONFIG_RULES) == set(CONTAINER_CONFIG_FIELDS)
assert set(HOST_RULES) == set(HOST_CONFIG_FIELDS)


async def _apply(
    rules: dict[str, Rule],
    student: Student,
    src: dict[str, Any],
    out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out = {} if out is None else out
    done: set[Rule] = set()
    for rule in rules.values():  # every rule runs, asked for or not: defaults get imposed
        if rule in done:
            continue
        done.add(rule)
        await rule(student, src, out)
    return out


def with_alias(endpoint: dict[str, Any], name: str | None) -> dict[str, Any]:
    """On the engine the container is called m<key>_web; on the student's networks it must
    also answer to "web", as it would on their own Docker."""
    if name:
        aliases = endpoint.setdefault("Aliases", [])
        if name not in aliases:
            aliases.append(name)
    return endpoint


async def container_create(
    student: Student,
    body: dict[str, Any],
    name: str | None = None,
    *,
    project_folder: str | None = None,
) -> dict[str, Any]:
    """The request body the gateway sends for the student's `containers/create`.
    `project_folder`: the gateway folder this request came through, whose sandbox's project
    volume a bind of the project folder becomes (gateway/project.py)."""
    host = await _apply(
        HOST_RULES, student, body.get("HostConfig") or {}, {project.FOLDER: project_folder}
    )
    project_state = {k: host.pop(k) for k in (project.FOLDER, project.USED) if k in host}
    out = await _apply(CONFIG_RULES, student, body)
    out["HostConfig"] = host
    out["HostConfig"]["Privileged"] = False
    given_endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    mode = host["NetworkMode"]
    configured = await endpoints(student, mode, given_endpoints)
    if mode != "none" and not mode.startswith("container:"):
        configured.setdefault(mode, {})
    for endpoint in configured.values():
        with_alias(endpoint, name)
    out["NetworkingConfig"] = {"EndpointsConfig": configured}
    pending = host.pop(PENDING_VOLUMES, [])
    publish = host.pop(PENDING_PUBLISH, None)
    if publish is not None and not publish.empty:
        out.setdefault("Labels", {})[port_bindings.LABEL] = publish.to_label()
    await quotas.check_new_container(student, host["Memory"])
    await project.check_volume(student.engine, project_state)
    from .volumes import ensure_volumes

    await ensure_volumes(student, pending)
    return out


async def container_update(
    student: Student, container_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    out = resources(student, body, partial=True)
    if "RestartPolicy" in body:
        out["RestartPolicy"] = restart_policy(body["RestartPolicy"])
    if "Memory" in out:
        await quotas.check_memory(student, out["Memory"], replacing=container_id)
    return out


def exec_create(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("Privileged"):
        raise _not_allowed("docker exec --privileged", _zero_reason("Privileged"))
    out = {k: v for k, v in body.items() if k != "Privileged"}
    return out
