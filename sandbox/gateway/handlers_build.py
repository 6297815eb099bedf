"""`docker build` with the classic builder: no network, limits, checked Dockerfile, own tags.

BuildKit (`POST /session`, `version=2`) is refused: its steps cannot be limited from here.
Every build runs with networkmode=none, rm and forcerm (a failed step leaves no container),
memory/CPU limits on each step and the student's build cgroup (pids). The result is tagged
with the student's prefix and labelled as theirs (the `labels` parameter is applied last, so
a LABEL in the Dockerfile cannot claim another owner).
"""

from __future__ import annotations

import bz2
import copy
import gzip
import io
import json
import lzma
import tarfile
from typing import Any

from django.utils.translation import gettext as _

from . import canonical_json, dockerfile, quotas
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


def _decompress(data: bytes, limit: int) -> bytes:
    """The CLI sends a plain tar; docker-py and `--compress` may gzip it."""
    opener: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | None = None
    if data[:2] == b"\x1f\x8b":
        opener = gzip.GzipFile(fileobj=io.BytesIO(data))
    elif data[:3] == b"BZh":
        opener = bz2.BZ2File(io.BytesIO(data))
    elif data[:6] == b"\xfd7zXZ\x00":
        opener = lzma.LZMAFile(io.BytesIO(data))
    if opener is None:
        return data
    with opener:
        out = opener.read(limit + 1)
    if len(out) > limit:
        raise _too_large(limit)
    return out


def _too_large(limit: int) -> Exception:
    return refused(
        _(
            "El contexto de construcción supera %(max)s: añade un .dockerignore o usa una carpeta "
            "con menos ficheros."
        )
        % {"max": mib(limit)}
    )


def _normal(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _find_dockerfile(archive: tarfile.TarFile, wanted: str) -> tuple[tarfile.TarInfo, bytes]:
    members = {_normal(m.name): m for m in archive.getmembers()}
    candidates = [_normal(wanted)]
    if wanted == "Dockerfile":
        candidates.append("dockerfile")
    for candidate in candidates:
        member = members.get(candidate)
        if member is not None:
            if not member.isfile():
                raise refused(_("El Dockerfile debe ser un fichero normal, no un enlace."))
            if member.size > dockerfile.MAX_DOCKERFILE:
                raise bad_request(_("El Dockerfile es demasiado grande."))
            handle = archive.extractfile(member)
            assert handle is not None
            return member, handle.read()
    raise bad_request(
        _("No se encuentra el Dockerfile «%(name)s» en el contexto de construcción.")
        % {"name": wanted}
    )


def _replace_member(data: bytes, target: tarfile.TarInfo, content: bytes) -> bytes:
    """The same archive with one file's content replaced."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:") as src,
        tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as dst,
    ):
        for member in src.getmembers():
            if member.name == target.name:
                replaced = copy.copy(member)
                replaced.size = len(content)
                dst.addfile(replaced, io.BytesIO(content))
            elif member.isfile():
                dst.addfile(member, src.extractfile(member))
            else:
                dst.addfile(member)
    return out.getvalue()


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
    if ex.q("outputs") or _json_param(ex, "cachefrom"):
        raise refused(_("--output y --cache-from son de BuildKit, que no está en Muelle."))
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
    shm = _limit(ex, "shmsize", config.container_shm, "--shm-size memory")

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

    tags = []
    for tag in ex.head.query_all("t"):
        ref = parse_image_ref(tag)
        if ref is None or ref.digest or not ref.on_docker_hub:
            raise bad_request(
                _(
                    "Nombre de imagen no válido para -t: «%(t)s». Usa nombre[:etiqueta], sin "
                    "registro."
                )
                % {"t": tag}
            )
        tags.append(student.ns.own_image_ref(ref))

    async with student.build_lock:
        async with student.lock:
            await quotas.check_new_image(student, max(1, len(tags)))
        cgroup = ensure_build_cgroup(config, student.ns.key)
        if cgroup is None:
            raise refused(
                _(
                    "Las construcciones no están disponibles en este servidor: no se "
                    "pueden limitar sus procesos."
                )
            )
        context = await ex.body(config.build_context_max)
        context = _decompress(context, config.build_context_max)
        wanted = ex.q("dockerfile") or "Dockerfile"
        try:
            with tarfile.open(fileobj=io.BytesIO(context), mode="r:") as archive:
                member, original = _find_dockerfile(archive, wanted)
        except tarfile.TarError:
            raise bad_request(
                _("El contexto de construcción no es un archivo tar válido.")
            ) from None
        try:
            text = original.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise bad_request(_("El Dockerfile no está en UTF-8.")) from None
        inline = dockerfile.can_label_inline(student.ns.labels)
        checked = await dockerfile.rewrite(
            text, _resolver(student), student.ns.labels if inline else None
        )
        context = _replace_member(context, member, checked.encode())

        query: list[tuple[str, str]] = [("t", t) for t in tags]
        query += [
            ("dockerfile", member.name),
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
        for name in ("q", "nocache", "target", "platform"):
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
