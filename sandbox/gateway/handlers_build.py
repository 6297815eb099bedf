"""`docker build` with the classic builder: no network, limits, checked Dockerfile, own tags.

BuildKit (`POST /session`, `version=2`) is refused: its steps cannot be limited from here.
Every build runs with networkmode=none, rm and forcerm (a failed step leaves no container),
memory/CPU limits on each step and the student's build cgroup (pids). The result is tagged
with the student's prefix and labelled as theirs (the `labels` parameter is applied last, so
a LABEL in the Dockerfile cannot claim another owner).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from typing import Any

from django.utils.translation import gettext as _

from . import build_context, canonical_json, copy_archive, dockerfile, quotas
from .build_cgroup import ensure_build_cgroup
from .errors import bad_request, refused
from .handlers_system import buildkit_session
from .names import is_reserved_label, parse_image_ref
from .policy import mib
from .server import Exchange
from .student import Student


def _json_param(ex: Exchange, name: str) -> Any:
    raw = ex.q(name)
    if not raw:
        return None
    return canonical_json.parse_plain(raw.encode())


def _read_context(data: bytes, limit: int) -> build_context.Context:
    return build_context.read(build_context.decompress(data, limit))


def _resolver(student: Student) -> dockerfile.ImageResolver:
    async def resolve(token: str) -> dockerfile.BaseImage | None:
        image = await student.image(token)
        if image is None:
            return None
        info = await student.engine.get_or_none(f"/images/{image.id}/json")
        onbuild = ((info or {}).get("Config") or {}).get("OnBuild") or []
        ref = image.engine_ref
        if ref.startswith("sha256:"):
            ref = ref.removeprefix("sha256:")  # FROM takes a bare image id
        return dockerfile.BaseImage(ref, list(onbuild))

    return resolve


_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})\Z")


def _extra_host(value: str) -> str:
    """`--add-host name:ip`, as the engine's `ValidateExtraHost`. Any address is allowed:
    build steps run with no network, so an /etc/hosts line cannot reach anything."""
    name, _sep, address = value.partition(":")
    valid = bool(_HOST_NAME.match(name))
    if address != "host-gateway":
        try:
            ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            valid = False
    if not valid:
        raise bad_request(
            _("--add-host no válido: «%(h)s». Usa nombre:IP, por ejemplo db:10.0.0.5.")
            % {"h": value[:200]}
        )
    return f"{name}:{address}"


async def _cache_from(student: Student, value: Any) -> list[str]:
    """`--cache-from` images, each one the student can see, by its engine name. The classic
    builder only looks them up locally (`MakeImageCache`): nothing is pulled."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(_("El parámetro cachefrom no es válido."))
    refs = []
    for text in value[:16]:
        image = await student.image(text)
        if image is None:
            raise refused(
                _(
                    "--cache-from «%(i)s»: esa imagen no está en Muelle. Usa una imagen del "
                    "curso o una que hayas construido tú."
                )
                % {"i": text[:200]}
            )
        refs.append(image.engine_ref)
    return refs


async def _engine_platforms(student: Student) -> frozenset[str]:
    """The engine's own platform: the only `--platform` that needs no pull."""
    version = await student.engine.get_or_none("/version") or {}
    os_name, arch = version.get("Os"), version.get("Arch")
    return frozenset({f"{os_name}/{arch}"}) if os_name and arch else frozenset()


def _limit(ex: Exchange, name: str, maximum: int, flag: str) -> int:
    raw = ex.q(name)
    if raw in (None, "", "0", "-1"):
        return maximum
    if not raw.isdigit() or int(raw) > maximum:
        raise refused(
            _("%(flag)s no está permitido por encima de %(max)s en las construcciones.")
            % {"flag": flag, "max": mib(maximum) if "memory" in flag else maximum}
        )
    return int(raw)


async def build(ex: Exchange) -> None:
    student = ex.student
    config = student.config
    if ex.q("version") == "2" or ex.q("session"):
        await ex.drain()
        await buildkit_session(ex)
    if ex.q("remote"):
        raise refused(
            _(
                "docker build con una URL no está disponible: en Muelle no se descarga "
                "nada. Construye desde una carpeta."
            )
        )
    if ex.q_bool("pull"):
        raise refused(_("--pull no está disponible: en Muelle no se descarga nada."))
    if ex.q_bool("squash"):
        raise refused(_("--squash no está disponible en Muelle."))
    if ex.q("outputs"):
        raise refused(_("--output es de BuildKit, que no está en Muelle."))
    network = ex.q("networkmode") or "default"
    if network not in ("default", "none"):
        raise refused(
            _(
                "--network %(n)s no está permitido: los pasos de construcción no tienen red en "
                "Muelle."
            )
            % {"n": network}
        )
    if _json_param(ex, "ulimits"):
        raise refused(_("--ulimit no está disponible en las construcciones."))
    if ex.q("cgroupparent"):
        raise refused(_("--cgroup-parent no está permitido en Muelle."))
    memory = _limit(ex, "memory", config.build_memory, "--memory")
    # /dev/shm pages are charged to the step's memory cgroup: the step's own limit bounds them.
    shm = _limit(ex, "shmsize", config.build_memory, "--shm-size memory")

    labels = _json_param(ex, "labels") or {}
    buildargs = _json_param(ex, "buildargs") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise bad_request(_("El parámetro labels no es válido."))
    if not isinstance(buildargs, dict) or not all(
        v is None or isinstance(v, str) for v in buildargs.values()
    ):
        raise bad_request(_("El parámetro buildargs no es válido."))
    reserved = [k for k in labels if is_reserved_label(k)]
    if reserved:
        raise refused(_("Las etiquetas «muelle.*» están reservadas para Muelle."))

    extra_hosts = [_extra_host(h) for h in ex.head.query_all("extrahosts")]
    cache_from = await _cache_from(student, _json_param(ex, "cachefrom"))

    tags = []
    for tag in ex.head.query_all("t"):
        ref = parse_image_ref(tag)
        in_course_registry = ref is not None and ref.domain == student.config.registry_name
        if ref is None or ref.digest or not (ref.on_docker_hub or in_course_registry):
            raise bad_request(
                _(
                    "Nombre de imagen no válido para -t: «%(t)s». Usa nombre[:etiqueta], sin "
                    "registro."
                )
                % {"t": tag}
            )
        tags.append(student.ns.own_image_ref(ref))

    async with student.build_lock, quotas.image_places(student, max(1, len(tags))):
        cgroup = ensure_build_cgroup(config, student.ns.key)
        if cgroup is None:
            raise refused(
                _(
                    "Las construcciones no están disponibles en este servidor: no se "
                    "pueden limitar sus procesos."
                )
            )
        context = await ex.body(config.build_context_max)
        # Decompressing and re-writing up to the context limit takes CPU time: off the loop
        # every student's gateway shares.
        parsed = await asyncio.to_thread(_read_context, context, config.build_context_max)
        await copy_archive.charge_members(ex.gateway.byte_rate, len(parsed.members))
        member = build_context.find_dockerfile(parsed, ex.q("dockerfile") or "Dockerfile")
        if member.size > dockerfile.MAX_DOCKERFILE:
            raise bad_request(_("El Dockerfile es demasiado grande."))
        platforms = await _engine_platforms(student)
        platform = ex.q("platform")
        if platform and platform not in platforms:
            raise refused(
                _(
                    "--platform %(p)s necesitaría descargar imágenes de otra plataforma, y en "
                    "Muelle no se descarga nada."
                )
                % {"p": platform[:64]}
            )
        inline = dockerfile.can_label_inline(student.ns.labels)
        checked = await dockerfile.rewrite(
            build_context.content(parsed, member),
            _resolver(student),
            student.ns.labels if inline else None,
            platforms,
        )
        context = await asyncio.to_thread(build_context.rebuild, parsed, member, checked.encode())

        query: list[tuple[str, str]] = [("t", t) for t in tags]
        query += [
            ("dockerfile", member.name),
            *(("extrahosts", h) for h in extra_hosts),
            ("networkmode", "none"),
            ("rm", "1"),
            ("forcerm", "1"),
            ("pull", "0"),
            ("memory", str(memory)),
            ("memswap", str(memory)),
            ("cpuperiod", "100000"),
            ("cpuquota", str(int(config.build_cpus * 100000))),
            ("shmsize", str(shm)),
            ("cgroupparent", cgroup),
            ("labels", json.dumps(labels if inline else {**labels, **student.ns.labels})),
            ("buildargs", json.dumps(buildargs)),
        ]
        if cache_from:
            query.append(("cachefrom", json.dumps(cache_from)))
        for name in ("q", "nocache", "target", "platform"):  # platform: checked above
            if ex.q(name):
                query.append((name, ex.q(name) or ""))
        ns = student.ns
        await ex.forward(
            "POST",
            "/build",
            query=query,
            body=context,
            content_type="application/x-tar",
            mode="stream",
            lines=lambda line: ns.strip_bytes(line),
        )
